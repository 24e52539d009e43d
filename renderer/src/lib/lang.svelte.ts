// The current UI language as reactive state, and the `t()` every component uses. Because `t`
// reads `ui.language`, any template that calls it re-renders when the language changes.
import type {LocalisedText} from '../../../main/common/errors';
import {translate, type Language, type MessageKey, type Vars} from './i18n';

export const ui = $state<{language: Language}>({language: 'zh-CN'});

export function setUiLanguage(language: Language): void {
  ui.language = language;
  // Screen readers and CJK line breaking both follow the document language.
  document.documentElement.lang = language;
}

export function t(key: MessageKey, vars?: Vars): string {
  return translate(ui.language, key, vars);
}

/** A text that arrived from the services in both languages. */
export function pick(text: LocalisedText): string {
  return ui.language === 'en' ? text.en : text.zh;
}
