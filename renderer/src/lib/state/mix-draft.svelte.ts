// The mix being designed: its components and settings, plus the details (versions, stats) of
// each dataset a component names, read once and kept, so the version lists and the preview's
// "rows available" need no call per keystroke. Made per designer, not a singleton.
import type {DatasetDetail, MethodInput} from '../../../../main/common/contract';
import type {MixComponent} from '../../../../main/common/datasets';
import {mixAvailableRows, mixComponentEmpty} from '../../../../main/common/dataset-fit';
import type {LocalisedText} from '../../../../main/common/errors';
import {estimateMix, type MixEstimate} from '../datasets';
import {api} from './client';

export type MixFilter = NonNullable<MixComponent['filter']>;

export interface MixPart {
  key: number;
  datasetId: string;
  /** null = the latest version when the mix is made */
  version: number | null;
  filter: MixFilter;
  ratio: number | null;
}

export const MAX_PARTS = 16;
const MAX_SEED = 2 ** 31 - 1;

let nextKey = 1;

export class MixDraft {
  name = $state('');
  parts = $state<MixPart[]>([]);
  unit = $state<'examples' | 'tokens'>('examples');
  total = $state<number | null>(null);
  seed = $state<number | null>(42);
  validation = $state<number | null>(0.05);
  /** keyed `${datasetId}@${version ?? 'latest'}` */
  details = $state<Record<string, DatasetDetail | 'loading' | 'failed'>>({});

  estimate: MixEstimate = $derived(
    estimateMix(
      this.parts.map((part) => (part.datasetId && part.ratio && part.ratio > 0 ? part.ratio : 0)),
      this.parts.map((part) => this.available(part)),
      this.total,
    ),
  );

  add(datasetId = ''): void {
    if (this.parts.length >= MAX_PARTS) return;
    this.parts.push({key: nextKey++, datasetId, version: null, filter: 'any', ratio: 1});
  }

  remove(key: number): void {
    this.parts = this.parts.filter((part) => part.key !== key);
  }

  /** The paper's SFT mix: single-turn and multi-turn dialogues at 7:1. With two datasets
   * chosen, single-turn comes from the first and multi-turn from the second. */
  paperPreset(fallbackId: string): void {
    const chosen = [...new Set(this.parts.map((part) => part.datasetId).filter(Boolean))];
    const single = chosen[0] ?? fallbackId;
    const multi = chosen[1] ?? single;
    const versionOf = (id: string) => this.parts.find((part) => part.datasetId === id)?.version ?? null;
    this.parts = [
      {key: nextKey++, datasetId: single, version: versionOf(single), filter: 'single', ratio: 7},
      {key: nextKey++, datasetId: multi, version: versionOf(multi), filter: 'multi', ratio: 1},
    ];
    this.unit = 'examples';
  }

  detailOf(datasetId: string, version: number | null): DatasetDetail | null {
    const found = this.details[`${datasetId}@${version ?? 'latest'}`];
    return found && typeof found === 'object' ? found : null;
  }

  /** Reads what a component needs (latest for its version list, the pinned version for its
   * stats); called from an $effect, never from a derivation. */
  ensure(datasetId: string, version: number | null): void {
    if (!datasetId) return;
    for (const v of version === null ? [null] : [null, version]) {
      const key = `${datasetId}@${v ?? 'latest'}`;
      if (this.details[key]) continue;
      this.details[key] = 'loading';
      api('datasets.get', v === null ? {id: datasetId} : {id: datasetId, version: v}).then(
        (detail) => (this.details[key] = detail),
        () => (this.details[key] = 'failed'),
      );
    }
  }

  available(part: MixPart): number | null {
    const detail = part.datasetId ? this.detailOf(part.datasetId, part.version) : null;
    return detail ? mixAvailableRows(detail.stats, part.filter) : null;
  }

  /** Why a component gives no rows (and so empties the whole mix), once its stats are known:
   * said under the preview before anyone presses 创建. */
  emptyReasons = $derived.by((): {key: number; reason: LocalisedText}[] =>
    this.parts.flatMap((part, index) => {
      const detail = part.datasetId ? this.detailOf(part.datasetId, part.version) : null;
      const reason = detail && mixComponentEmpty(detail.stats, part.filter, {index, name: detail.summary.name, version: detail.version.version});
      return reason ? [{key: part.key, reason}] : [];
    }),
  );

  /** The call's input, or null while something is missing or out of range. */
  input(fallbackName: string): MethodInput<'datasets.mix'> | null {
    const name = this.name.trim() || fallbackName;
    if (!name || this.parts.length === 0) return null;
    if (this.parts.some((part) => !part.datasetId || !part.ratio || part.ratio <= 0 || part.ratio > 1000)) return null;
    if (this.total !== null && (!Number.isInteger(this.total) || this.total <= 0 || this.total > 10_000_000)) return null;
    if (this.seed === null || !Number.isInteger(this.seed) || this.seed < 0 || this.seed > MAX_SEED) return null;
    if (this.validation === null || this.validation < 0 || this.validation > 0.5) return null;
    const input: MethodInput<'datasets.mix'> = {
      name,
      components: this.parts.map((part) => {
        const component: {datasetId: string; ratio: number; filter: MixFilter; version?: number} = {
          datasetId: part.datasetId,
          ratio: part.ratio as number,
          filter: part.filter,
        };
        if (part.version !== null) component.version = part.version;
        return component;
      }),
      unit: this.unit,
      seed: this.seed,
      validationFraction: this.validation,
    };
    if (this.total !== null) input.total = this.total;
    return input;
  }
}
