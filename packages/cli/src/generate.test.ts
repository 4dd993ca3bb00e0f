import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadSearchSpace } from '@mitosis/growth';
import { priceNetwork } from '@mitosis/hardware';
import { captureCli, type CliResult } from './testing/capture-cli.js';
import type { GenerationReport } from './commands/generate.js';

function cli(...argv: string[]): Promise<CliResult> {
  return captureCli(argv);
}

const DEVICES = ['note10-cpu', 'myriad-vpu'];

/** Each device's latency of toy-1d's seed, so budgets are set relative to what the seed costs there. */
function seedLatency(device: string): number {
  const ms = priceNetwork({ model: loadSearchSpace('toy-1d').space.seed, profile: device }).latencyMs;
  assert.ok(ms !== null && ms > 0, `${device} prices toy-1d`);
  return ms;
}

describe('mitosis generate', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'mitosis-cli-generate-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('refuses, before any training, budgets a device cannot meet, naming every such device (exit 2)', async () => {
    const out = join(root, 'infeasible');
    const budgets = DEVICES.map((d) => `${seedLatency(d) * 0.5}ms`).join(',');
    const r = await cli('--json', 'generate', '--space', 'toy-1d', '--devices', DEVICES.join(','), '--budget', budgets, '--rounds', '1', '--out', out);
    assert.equal(r.code, 2, r.stderr);
    const err = JSON.parse(r.stdout) as { error: { code: string; message: string } };
    assert.equal(err.error.code, 'E_BUDGET_INFEASIBLE');
    for (const d of DEVICES) assert.match(err.error.message, new RegExp(d));
    assert.equal(existsSync(join(out, 'trials')), false, 'no trial was started');
  });

  it('makes one model per device with model.onnx and a model card, and a side-by-side report', async () => {
    const out = join(root, 'two');
    const budgets = DEVICES.map((d) => `${seedLatency(d) * 2}ms`).join(',');
    const r = await cli('--json', 'generate', '--space', 'toy-1d', '--devices', DEVICES.join(','), '--budget', budgets, '--rounds', '1', '--jobs', '2', '--out', out);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as GenerationReport;
    assert.deepEqual(report.models.map((m) => m.device), DEVICES);
    for (const m of report.models) {
      assert.equal(m.status, 'done');
      assert.equal(m.budgetMet, true);
      assert.equal(m.budget.unit, 'ms');
      assert.ok(m.latencyMs !== null && m.latencyMs <= m.budget.value * (1 + 1e-9));
      assert.ok(m.modelDir !== null);
      for (const f of ['model.json', 'weights.bin', 'model-card.json', 'model-card.md']) assert.ok(existsSync(join(m.modelDir, f)), `${m.device}: ${f}`);
      assert.equal(m.onnx, true);
      assert.ok(existsSync(join(m.modelDir, 'model.onnx')));
      const card = JSON.parse(readFileSync(join(m.modelDir, 'model-card.json'), 'utf8')) as { device: { id: string }; provenance: { budgetMet: boolean } };
      assert.equal(card.device.id, m.device);
      assert.equal(card.provenance.budgetMet, true);
    }
    const md = readFileSync(join(out, 'generate-report.md'), 'utf8');
    assert.match(md, /\| note10-cpu \(.*\) \|/);
    assert.match(md, /## Widths per layer/);

    // Running it again resumes: nothing is trained twice, the report is the same.
    const again = await cli('--json', 'generate', '--space', 'toy-1d', '--devices', DEVICES.join(','), '--budget', budgets, '--rounds', '1', '--out', out);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual((JSON.parse(again.stdout) as GenerationReport).models.map((m) => m.testAccuracy), report.models.map((m) => m.testAccuracy));
  });

  it('rejects a budget count that matches neither one nor every device (exit 2)', async () => {
    const r = await cli('generate', '--space', 'toy-1d', '--devices', 'note10-cpu,myriad-vpu,hexagon-dsp', '--budget', '1ms,2ms', '--out', join(root, 'count'));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /one budget for every device or one per device/);
  });
});
