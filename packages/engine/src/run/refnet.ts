import type { NetworkNode, NetworkSpec } from '@mitosis/core';

/**
 * refnet-32, the reference network of the training benchmark: input 32×32×3; conv 3×3 3→32 + BN + ReLU;
 * depthwise-separable blocks (dw 3×3 + BN + ReLU, pw 1×1 + BN + ReLU) 32→64 s1, 64→128 s2, 128→128 s1,
 * 128→256 s2; global average pool; dense 256→10 (logits). Convolutions have no bias (BN follows); BN ε = 1e-3,
 * momentum 0.99.
 */
export function refnet32Spec(): NetworkSpec {
  const nodes: NetworkNode[] = [{ name: 'input', op: 'input', shape: [32, 32, 3] }];
  let prev = 'input';
  const push = (node: NetworkNode): void => {
    nodes.push(node);
    prev = node.name;
  };
  const bnRelu = (base: string): void => {
    push({ name: `${base}_bn`, op: 'batchNorm', inputs: [prev], epsilon: 1e-3, momentum: 0.99 });
    push({ name: `${base}_relu`, op: 'activation', inputs: [prev], activation: 'relu' });
  };
  push({ name: 'stem', op: 'conv2d', inputs: [prev], filters: 32, kernelSize: [3, 3], strides: [1, 1], padding: 'same', useBias: false });
  bnRelu('stem');
  const blocks: readonly [number, number][] = [
    [64, 1],
    [128, 2],
    [128, 1],
    [256, 2],
  ];
  blocks.forEach(([filters, stride], i) => {
    const b = `block${i + 1}`;
    push({ name: `${b}_dw`, op: 'depthwiseConv2d', inputs: [prev], kernelSize: [3, 3], strides: [stride, stride], padding: 'same', useBias: false });
    bnRelu(`${b}_dw`);
    push({ name: `${b}_pw`, op: 'conv2d', inputs: [prev], filters, kernelSize: [1, 1], strides: [1, 1], padding: 'same', useBias: false });
    bnRelu(`${b}_pw`);
  });
  push({ name: 'pool', op: 'globalAvgPool', inputs: [prev] });
  push({ name: 'logits', op: 'dense', inputs: [prev], units: 10, useBias: true });
  return { format: 'mitosis-network', version: 1, name: 'refnet-32', nodes, output: 'logits' };
}
