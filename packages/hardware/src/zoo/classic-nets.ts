import type { NetworkSpec } from '@mitosis/core';
import { SpecBuilder } from './spec-builder.js';

/** torchvision ResNet-18 at 224 px (BasicBlocks [2, 2, 2, 2], 1×1 stride-2 projection shortcuts): 1.82G MACs. */
export function resNet18Spec(resolution = 224, classes = 1000): NetworkSpec {
  const b = new SpecBuilder([resolution, resolution, 3]);
  b.convBnAct(64, 7, 2, 'relu');
  let x = b.maxPool(3, 2);
  let cin = 64;
  for (const [stage, width] of [64, 128, 256, 512].entries()) {
    for (let i = 0; i < 2; i++) {
      const stride = stage > 0 && i === 0 ? 2 : 1;
      const blockIn = x;
      b.convBnAct(width, 3, stride, 'relu', blockIn);
      const main = b.convBnAct(width, 3, 1, null);
      const shortcut = stride !== 1 || cin !== width ? b.convBnAct(width, 1, stride, null, blockIn) : blockIn;
      b.add(main, shortcut);
      x = b.act('relu');
      cin = width;
    }
  }
  b.gap();
  b.dense(classes);
  return b.build(`resnet18-${resolution}`);
}

/** torchvision VGG-16 (no batch norm) at 224 px: 15.5G MACs, 138M parameters. */
export function vgg16Spec(resolution = 224, classes = 1000): NetworkSpec {
  const b = new SpecBuilder([resolution, resolution, 3]);
  for (const [n, width] of [
    [2, 64],
    [2, 128],
    [3, 256],
    [3, 512],
    [3, 512],
  ] as const) {
    for (let i = 0; i < n; i++) {
      b.conv(width, 3, 1, { bias: true });
      b.act('relu');
    }
    b.maxPool(2, 2);
  }
  b.dense(4096);
  b.act('relu');
  b.dense(4096);
  b.act('relu');
  b.dense(classes);
  return withFlattenBeforeDense(b.build(`vgg16-${resolution}`));
}

/** Inserts a flatten before the first dense that reads a rank-3 tensor (VGG's classifier). */
function withFlattenBeforeDense(spec: NetworkSpec): NetworkSpec {
  const i = spec.nodes.findIndex((n) => n.op === 'dense');
  const dense = spec.nodes[i];
  if (dense === undefined || dense.op !== 'dense') return spec;
  const flatten = { name: 'flatten', op: 'flatten' as const, inputs: [dense.inputs[0]!] };
  const nodes = [...spec.nodes];
  nodes.splice(i, 1, flatten, { ...dense, inputs: ['flatten'] });
  return { ...spec, nodes };
}

/** torchvision MnasNet-1.0 (no squeeze-excite) at 224 px: 0.31G MACs. */
export function mnasNetSpec(resolution = 224, classes = 1000): NetworkSpec {
  const b = new SpecBuilder([resolution, resolution, 3]);
  b.convBnAct(32, 3, 2, 'relu');
  b.dwBnAct(3, 1, 'relu');
  let x = b.convBnAct(16, 1, 1, null);
  let cin = 16;
  // (out, kernel, stride, expansion, repeats)
  for (const [out, k, s, e, n] of [
    [24, 3, 2, 3, 3],
    [40, 5, 2, 3, 3],
    [80, 5, 2, 6, 3],
    [96, 3, 1, 6, 2],
    [192, 5, 2, 6, 4],
    [320, 3, 1, 6, 1],
  ] as const) {
    for (let i = 0; i < n; i++) {
      const stride = i === 0 ? s : 1;
      const blockIn = x;
      b.convBnAct(cin * e, 1, 1, 'relu');
      b.dwBnAct(k, stride, 'relu');
      x = b.convBnAct(out, 1, 1, null);
      if (stride === 1 && cin === out) x = b.add(blockIn, x);
      cin = out;
    }
  }
  b.convBnAct(1280, 1, 1, 'relu');
  b.gap();
  b.dense(classes);
  return b.build(`mnasnet1.0-${resolution}`);
}
