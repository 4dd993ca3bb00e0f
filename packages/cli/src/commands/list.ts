import { Argument, type Command } from 'commander';
import { EXTENSION_POINTS, type Contribution, type ContributionRegistry } from '@mitosis/core';
import { listDatasets, type DatasetInfo } from '@mitosis/data';
import { listSearchSpaces, loadSearchSpace } from '@mitosis/growth';
import { loadProfile, shippedProfileIds } from '@mitosis/hardware';
import { emit, type GlobalOptions, type Io } from '../io.js';
import { pluginContainer } from '../plugin-context.js';

/** What `mitosis list` can list. */
export const LISTABLE = ['spaces', 'profiles', 'datasets', 'methods'] as const;
export type Listable = (typeof LISTABLE)[number];

export interface SpaceInfo {
  readonly id: string;
  readonly description: string;
}

export interface ProfileInfo {
  readonly id: string;
  readonly description: string;
  readonly device: string;
  readonly deviceClass: string;
  /** True when no number in the profile was measured per op. */
  readonly estimated: boolean;
  /** True when ops missing from the table are priced by an estimated fallback model. */
  readonly fallback: boolean;
  readonly source: string;
}

export interface MethodInfo {
  readonly kind: string;
  readonly id: string;
  readonly description: string;
}

function spaces(): SpaceInfo[] {
  return listSearchSpaces().map((id) => ({ id, description: loadSearchSpace(id).space.description }));
}

function profiles(): ProfileInfo[] {
  return shippedProfileIds().map((id) => {
    const p = loadProfile(id);
    return {
      id,
      description: p.description ?? '',
      device: p.device.name,
      deviceClass: p.device.class,
      estimated: p.estimated,
      fallback: p.fallback !== undefined,
      source: p.provenance.source,
    };
  });
}

async function methods(options: GlobalOptions, io: Io): Promise<MethodInfo[]> {
  const { container } = await pluginContainer(options, io);
  return EXTENSION_POINTS.filter((p) => p.method !== undefined).flatMap((p) => {
    const registry: ContributionRegistry<Contribution> = container.get(p.registry);
    return registry.ids().map((id) => ({ kind: p.method!, id, description: registry.get(id).description }));
  });
}

const line = (id: string, text: string): string => `${id.padEnd(24)} ${text}`.trimEnd();

function human(what: Listable, items: readonly unknown[]): string {
  if (items.length === 0) return `No ${what} found.\n`;
  const lines = items.map((item) => {
    switch (what) {
      case 'spaces': {
        const s = item as SpaceInfo;
        return line(s.id, s.description);
      }
      case 'profiles': {
        const p = item as ProfileInfo;
        const numbers = p.estimated ? 'all numbers estimated' : p.fallback ? 'measured table, estimated fallback' : 'measured';
        return line(p.id, `${p.deviceClass}, ${p.device}; ${numbers}; ${p.description}`);
      }
      case 'datasets': {
        const d = item as DatasetInfo;
        const classes = d.classes === undefined ? '' : `, ${d.classes} classes`;
        return line(d.id, `${d.task}, input ${d.inputShape.join('x')}${classes}: ${d.description}`);
      }
      case 'methods': {
        const m = item as MethodInfo;
        return line(`${m.kind} ${m.id}`, m.description);
      }
    }
  });
  return `${lines.join('\n')}\n`;
}

/** `mitosis list spaces|profiles|datasets|methods`: the ids other commands accept, one line each. */
export function registerListCommand(program: Command, io: Io): void {
  program
    .command('list')
    .description('list the shipped search spaces, hardware profiles, data sets, or the methods of the loaded plugins')
    .addArgument(new Argument('<what>', 'what to list').choices(LISTABLE))
    .action(async (what: Listable, _flags: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const items: readonly unknown[] =
        what === 'spaces' ? spaces() : what === 'profiles' ? profiles() : what === 'datasets' ? listDatasets() : await methods(options, io);
      emit(io, options, { [what]: items }, () => human(what, items));
    });
}
