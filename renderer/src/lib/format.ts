// Number formatting for the Models and download views. Units stay Latin (GiB, B, M) in both
// languages: that is how model cards and file managers show them to Chinese users too.
import {t} from './lang.svelte';

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return t('none');
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(value >= 100 ? 0 : 1)} ${units[unit]}`;
}

/** 7_241_732_096 → "7.2B"; 335_000_000 → "335M". */
export function formatParams(count: number): string {
  if (!Number.isFinite(count) || count <= 0) return t('none');
  if (count >= 1e9) return `${(count / 1e9).toFixed(count >= 1e10 ? 0 : 1)}B`;
  if (count >= 1e6) return `${(count / 1e6).toFixed(0)}M`;
  if (count >= 1e3) return `${(count / 1e3).toFixed(0)}K`;
  return String(count);
}

export function formatInteger(value: number | null): string {
  return value === null ? t('none') : value.toLocaleString('en-US');
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return t('secondsShort', {n: s});
  if (s < 3600) return t('minutesShort', {m: Math.floor(s / 60), s: s % 60});
  return t('hoursShort', {h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60)});
}

export function formatDate(iso: string, language: 'zh-CN' | 'en'): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  return date.toLocaleString(language, {month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit'});
}
