// Exports of one consultation: Markdown for people (the visible branch, as read on screen) and
// JSON for programs (every branch, with model provenance, so nothing is lost in an export).

import type {Consultation, Message, ModelInfo} from '../../common/contract.js';
import {NOT_A_DOCTOR_NOTICE} from '../../common/prompts.js';
import {threadTo} from '../../common/thread.js';
import {titleForFileName} from '../../common/titles.js';
import {safeInline, safeMarkdown} from './export-markdown.js';

export const CONSULTATION_EXPORT_FORMAT = 'zhongjing.consultation';
export const CONSULTATION_EXPORT_VERSION = 1;

type Language = 'zh-CN' | 'en';

const LABELS = {
  'zh-CN': {user: '患者', assistant: '仲景', model: '模型', adapters: '适配器', exported: '导出时间', system: '系统提示词', none: '无', stopped: '（已停止）', remote: '远程', failed: '（生成失败）', interrupted: '（被中断）'},
  en: {user: 'Patient', assistant: 'Zhongjing', model: 'Model', adapters: 'Adapters', exported: 'Exported', system: 'System prompt', none: 'none', stopped: '(stopped)', remote: 'remote', failed: '(generation failed)', interrupted: '(interrupted)'},
} as const;

function statusNote(message: Message, language: Language): string {
  const labels = LABELS[language];
  // a reply from an OpenAI-compatible endpoint says so, as on screen
  const remote = message.role === 'assistant' && message.meta.remote ? ` · ${labels.remote}: ${safeInline(message.meta.remote.name)} (${safeInline(message.meta.remote.model)})` : '';
  return remote + statusOnly(message, language);
}

function statusOnly(message: Message, language: Language): string {
  const labels = LABELS[language];
  if (message.status === 'stopped') return ` ${labels.stopped}`;
  if (message.status === 'error') return ` ${labels.failed}`;
  if (message.status === 'interrupted') return ` ${labels.interrupted}`;
  return '';
}

export function exportFileBase(consultation: Consultation): string {
  // no trailing punctuation, before and after the cut: "头痛三天了，" names "头痛三天了-2026-….md"
  const safeTitle = titleForFileName(titleForFileName(consultation.title).replace(/[\\/:*?"<>|\u0000-\u001f]+/g, '_').slice(0, 60)) || 'consultation';
  return `${safeTitle}-${consultation.createdAt.slice(0, 10)}`;
}

export function consultationToMarkdown(
  consultation: Consultation,
  models: {model: ModelInfo | null; adapters: ModelInfo[]},
  language: Language,
  exportedAt = new Date(),
): string {
  const labels = LABELS[language];
  const lines = [
    `# ${safeInline(consultation.title)}`,
    '',
    `- ${labels.model}: ${models.model ? `${models.model.name} (${models.model.architecture}, ${models.model.quantization})` : labels.none}`,
    `- ${labels.adapters}: ${models.adapters.length ? models.adapters.map((a) => a.name).join(', ') : labels.none}`,
    `- ${labels.exported}: ${exportedAt.toISOString()}`,
    '',
    `> ${language === 'en' ? NOT_A_DOCTOR_NOTICE.en : NOT_A_DOCTOR_NOTICE.zh}`,
    '',
    `<details><summary>${labels.system}</summary>`,
    '',
    safeMarkdown(consultation.systemPrompt),
    '',
    '</details>',
    '',
  ];
  for (const message of threadTo(consultation.messages, consultation.currentLeafId)) {
    const who = message.role === 'user' ? labels.user : labels.assistant;
    // each message keeps its Markdown, made safe to sit inside this document (export-markdown.ts)
    lines.push(`### ${who}${statusNote(message, language)}`, '', safeMarkdown(message.content), '');
  }
  return lines.join('\n');
}

export function consultationToJson(
  consultation: Consultation,
  models: {model: ModelInfo | null; adapters: ModelInfo[]},
  exportedAt = new Date(),
): string {
  const describe = (m: ModelInfo) => ({
    id: m.id,
    name: m.name,
    architecture: m.architecture,
    quantization: m.quantization,
    parameterCount: m.parameterCount,
    sha256: m.sha256,
    fileName: m.path.split(/[\\/]/).pop(),
  });
  return JSON.stringify(
    {
      format: CONSULTATION_EXPORT_FORMAT,
      version: CONSULTATION_EXPORT_VERSION,
      exportedAt: exportedAt.toISOString(),
      consultation: {
        id: consultation.id,
        title: consultation.title,
        createdAt: consultation.createdAt,
        updatedAt: consultation.updatedAt,
        systemPrompt: consultation.systemPrompt,
        sampling: consultation.sampling,
        model: models.model ? describe(models.model) : null,
        adapters: models.adapters.map(describe),
      },
      // the branch on screen, in order, as role/content pairs ready for training formats
      thread: threadTo(consultation.messages, consultation.currentLeafId).map((m) => ({
        id: m.id,
        role: m.role,
        content: m.content,
        status: m.status,
        createdAt: m.createdAt,
      })),
      // every message of every branch, so edits and regenerations survive the export
      messages: consultation.messages,
      currentLeafId: consultation.currentLeafId,
    },
    null,
    2,
  );
}
