// A tiny typed i18n: `t(key, params)` in the current language, a language switch kept in
// localStorage. Simplified Chinese is the default.
import { ref } from 'vue';
import { LANGS, messages, type Lang, type MessageKey } from './messages';

const STORAGE_KEY = 'watchpost.console.lang';

function stored(): Lang {
  try {
    const value = localStorage.getItem(STORAGE_KEY);
    if ((LANGS as readonly string[]).includes(value ?? '')) return value as Lang;
  } catch {
    // no storage (private mode): the default
  }
  return 'zh-CN';
}

export const lang = ref<Lang>(stored());
document.documentElement.lang = lang.value;

export function setLang(value: Lang): void {
  lang.value = value;
  document.documentElement.lang = value;
  try {
    localStorage.setItem(STORAGE_KEY, value);
  } catch {
    // not kept: still switched for this page
  }
}

/** The label `key` in the current language, `{name}` replaced by `params.name`. */
export function t(key: MessageKey, params: Record<string, string | number> = {}): string {
  const text = messages[lang.value][key];
  return text.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

export { LANGS };
export type { Lang, MessageKey };
