// The current UI language as reactive state, and the `t()` every component uses. Because `t`
// reads `ui.language`, any template that calls it re-renders when the language changes.
import type {LocalisedText} from '../../../main/common/errors';
import {translate, type Language, type MessageKey, type Vars} from './i18n';

export const ui = $state<{language: Language}>({language: 'zh-CN'});

const CHOICE_KEY = 'zhongjing.language';
let chosenHere: Language | null = null;

/** The language this browser chose (kept in its own storage), else the one it started with: one
 * person's switch on a shared `zhongjing serve` must not change the pages other people have open
 * (the Settings language is only the default for a browser that has not chosen yet). */
export function pageLanguage(settingsLanguage: Language): Language {
  if (!chosenHere) {
    try {
      const kept = localStorage.getItem(CHOICE_KEY);
      chosenHere = kept === 'en' || kept === 'zh-CN' ? kept : settingsLanguage;
    } catch {
      chosenHere = settingsLanguage; // storage disabled: the page keeps the language it started with
    }
  }
  return chosenHere;
}

/** This browser's own choice, from the language button. */
export function chooseLanguage(language: Language): void {
  chosenHere = language;
  try {
    localStorage.setItem(CHOICE_KEY, language);
  } catch {
    // storage full or disabled: the choice lasts as long as the page
  }
  setUiLanguage(language);
}

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
