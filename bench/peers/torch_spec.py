# PyTorch peer of `mitosis bench train`: builds the network of a mitosis network spec (or of a search space's
# seed / full network, as a list of layer widths applied to the seed) in PyTorch and prints its training img/s:
# SGD momentum 0.9, softmax cross-entropy, batch-statistics batch norm, N(0, 1) inputs, uniform labels.
# usage: python3 torch_spec.py SPACE_OR_SPEC.json [seed|full] [THREADS] [STEPS] [BATCH]
#   e.g. python3 bench/peers/torch_spec.py search-spaces/mobilenetv1-cifar.json seed 1 100
# Supported ops: conv2d, depthwiseConv2d, batchNorm, activation, maxPool, avgPool, globalAvgPool, flatten,
# dense, add, concat, dropout. Padding "same" is symmetric here (k // 2), TF's is bottom/right-heavy for
# stride 2: the same cost, slightly different alignment.
import json, sys, time, warnings
import torch, torch.nn as nn

path = sys.argv[1]
which = sys.argv[2] if len(sys.argv) > 2 else 'seed'
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 1
steps = int(sys.argv[4]) if len(sys.argv) > 4 else 100
batch = int(sys.argv[5]) if len(sys.argv) > 5 else 64
torch.set_num_threads(threads)
torch.manual_seed(0)
warnings.filterwarnings("ignore", message="Lazy modules")

doc = json.load(open(path))
if doc.get('format') == 'mitosis-search-space':
    spec = doc['seed']
    if which == 'full':
        # The full network: every listed layer at its cap (what `fullNetwork` in @mitosis/growth builds).
        caps = {name: layer['cap'] for name, layer in doc.get('layers', {}).items()}
        spec = dict(spec, nodes=[dict(n, **({'filters': caps[n['name']]} if n['name'] in caps and 'filters' in n else {}),
                                          **({'units': caps[n['name']]} if n['name'] in caps and 'units' in n else {}))
                                 for n in spec['nodes']])
else:
    spec = doc
if 'cell' in doc:
    sys.exit('cell spaces compile their seed from the cell: pass a network spec file instead (bench/peers/ratio.sh writes one)')


class Swish(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(x)


ACTS = {'relu': nn.ReLU, 'relu6': nn.ReLU6, 'tanh': nn.Tanh, 'sigmoid': nn.Sigmoid, 'softplus': nn.Softplus,
        'swish': Swish, 'identity': nn.Identity}


class Net(nn.Module):
    """Evaluates the spec's nodes in order (specs list nodes topologically); channels tracked per node."""

    def __init__(self, spec):
        super().__init__()
        self.nodes = spec['nodes']
        self.output = spec['output']
        self.mods = nn.ModuleDict()
        ch = {}
        for n in self.nodes:
            op, name = n['op'], n['name']
            cin = ch.get(n['inputs'][0]) if 'inputs' in n else None
            if op == 'input':
                ch[name] = n['shape'][-1]
                continue
            if op == 'conv2d':
                k, s = n['kernelSize'], n['strides']
                pad = (k[0] // 2, k[1] // 2) if n['padding'] == 'same' else 0
                m = nn.Conv2d(cin, n['filters'], tuple(k), tuple(s), pad, bias=n.get('useBias', True))
                ch[name] = n['filters']
            elif op == 'depthwiseConv2d':
                k, s = n['kernelSize'], n['strides']
                pad = (k[0] // 2, k[1] // 2) if n['padding'] == 'same' else 0
                m = nn.Conv2d(cin, cin, tuple(k), tuple(s), pad, groups=cin, bias=n.get('useBias', True))
                ch[name] = cin
            elif op == 'batchNorm':
                m = nn.BatchNorm2d(cin, eps=n['epsilon'], momentum=1 - n['momentum'])
                ch[name] = cin
            elif op == 'activation':
                m = ACTS[n['activation']]()
                ch[name] = cin
            elif op in ('maxPool', 'avgPool'):
                k = n['poolSize']
                pad = (k[0] // 2, k[1] // 2) if n.get('padding') == 'same' else 0
                if op == 'maxPool':
                    m = nn.MaxPool2d(tuple(k), tuple(n['strides']), pad)
                else:
                    # TF's 'same' average pool divides by the pixels inside the image.
                    m = nn.AvgPool2d(tuple(k), tuple(n['strides']), pad, count_include_pad=False)
                ch[name] = cin
            elif op == 'globalAvgPool':
                m = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
                ch[name] = cin
            elif op == 'flatten':
                m = nn.Flatten()
                ch[name] = None  # set lazily below
            elif op == 'dense':
                m = nn.LazyLinear(n['units'], bias=n.get('useBias', True))
                ch[name] = n['units']
            elif op == 'dropout':
                m = nn.Dropout(n['rate'])
                ch[name] = cin
            elif op == 'add':
                m = None
                ch[name] = cin
            elif op == 'concat':
                m = None
                ch[name] = sum(ch[i] for i in n['inputs'])
            else:
                raise SystemExit(f'unsupported op {op}')
            if m is not None:
                self.mods[name] = m
        # Dense layers after a 2-D batch norm need BatchNorm1d: fix up by rank at first call.
        self.rank_fixed = False

    def forward(self, x):
        vals = {}
        for n in self.nodes:
            op, name = n['op'], n['name']
            if op == 'input':
                vals[name] = x
                continue
            ins = [vals[i] for i in n['inputs']]
            if op == 'add':
                v = ins[0]
                for t in ins[1:]:
                    v = v + t
            elif op == 'concat':
                v = torch.cat(ins, 1)
            else:
                m = self.mods[name]
                if op == 'batchNorm' and ins[0].dim() == 2 and isinstance(m, nn.BatchNorm2d):
                    m = nn.BatchNorm1d(m.num_features, eps=m.eps, momentum=m.momentum)
                    self.mods[name] = m
                v = m(ins[0])
            vals[name] = v
        return vals[self.output]


shape = next(n['shape'] for n in spec['nodes'] if n['op'] == 'input')
net = Net(spec)
x = torch.randn(batch, shape[-1], *shape[:-1]) if len(shape) == 3 else torch.randn(batch, *shape)
out_units = next(n['units'] for n in spec['nodes'] if n['name'] == spec['output'])
y = torch.randint(0, out_units, (batch,))
net(x)  # materialise lazy layers (and swap 1-D batch norms) before the optimizer sees the parameters
opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)


def step():
    opt.zero_grad()
    nn.functional.cross_entropy(net(x), y).backward()
    opt.step()


for _ in range(5):
    step()
# Five equal blocks of steps: the mean over all of them, and the fastest block (less disturbed by other load),
# as `mitosis bench train` reports them.
blocks = []
t0 = time.perf_counter()
for b in range(5):
    n = (steps * (b + 1)) // 5 - (steps * b) // 5
    t = time.perf_counter()
    for _ in range(n):
        step()
    blocks.append((time.perf_counter() - t) / max(n, 1))
dt = (time.perf_counter() - t0) / steps
params = sum(p.numel() for p in net.parameters())
print(f"torch {spec.get('name', path)} {which}: {params} params, step {dt * 1000:.2f} ms, {batch / dt:.0f} img/s, "
      f"best block {batch / min(blocks):.0f} img/s")
