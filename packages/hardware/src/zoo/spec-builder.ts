import type { ActivationKind, NetworkNode, NetworkSpec } from '@mitosis/core';

/** A small helper that appends nodes and remembers the last one; used to build reference networks. */
export class SpecBuilder {
  private readonly nodes: NetworkNode[] = [];
  private count = 0;
  last: string;

  /** @param inputShape `[H, W, C]` or `[features]`. */
  constructor(inputShape: readonly number[]) {
    this.nodes.push({ name: 'input', op: 'input', shape: [...inputShape] });
    this.last = 'input';
  }

  private name(prefix: string): string {
    this.count += 1;
    return `${prefix}${this.count}`;
  }

  private push(node: NetworkNode): string {
    this.nodes.push(node);
    this.last = node.name;
    return node.name;
  }

  conv(filters: number, kernel: number, stride: number, opts: { bias?: boolean; from?: string } = {}): string {
    return this.push({
      name: this.name('conv'),
      op: 'conv2d',
      inputs: [opts.from ?? this.last],
      filters,
      kernelSize: [kernel, kernel],
      strides: [stride, stride],
      padding: 'same',
      useBias: opts.bias ?? false,
    });
  }

  dw(kernel: number, stride: number, from?: string): string {
    return this.push({
      name: this.name('dw'),
      op: 'depthwiseConv2d',
      inputs: [from ?? this.last],
      kernelSize: [kernel, kernel],
      strides: [stride, stride],
      padding: 'same',
      useBias: false,
    });
  }

  bn(): string {
    return this.push({ name: this.name('bn'), op: 'batchNorm', inputs: [this.last], epsilon: 1e-3, momentum: 0.99 });
  }

  act(activation: ActivationKind): string {
    return this.push({ name: this.name('act'), op: 'activation', inputs: [this.last], activation });
  }

  /** conv → batchNorm → activation (activation skipped when `null`). */
  convBnAct(filters: number, kernel: number, stride: number, activation: ActivationKind | null, from?: string): string {
    this.conv(filters, kernel, stride, from === undefined ? {} : { from });
    this.bn();
    return activation === null ? this.last : this.act(activation);
  }

  dwBnAct(kernel: number, stride: number, activation: ActivationKind): string {
    this.dw(kernel, stride);
    this.bn();
    return this.act(activation);
  }

  add(a: string, b: string): string {
    return this.push({ name: this.name('add'), op: 'add', inputs: [a, b] });
  }

  gap(): string {
    return this.push({ name: this.name('gap'), op: 'globalAvgPool', inputs: [this.last] });
  }

  maxPool(size: number, stride: number): string {
    return this.push({
      name: this.name('pool'),
      op: 'maxPool',
      inputs: [this.last],
      poolSize: [size, size],
      strides: [stride, stride],
      padding: 'same',
    });
  }

  dense(units: number, bias = true): string {
    return this.push({ name: this.name('fc'), op: 'dense', inputs: [this.last], units, useBias: bias });
  }

  build(name: string): NetworkSpec {
    return { format: 'mitosis-network', version: 1, name, nodes: [...this.nodes], output: this.last };
  }
}
