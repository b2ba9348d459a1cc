// The operator's small preferences — the tiles' latency mode, the stats overlay and the
// language — follow the operator like the grid does: they are part of the console settings
// on the server (settings.ts). This binds them both ways: settings loaded from the server
// (after login, or reloaded after a conflict) set the switches; a switch changed here is
// saved into the settings. The switches' own localStorage keys (tileSettings.ts, i18n.ts)
// stay as what a browser shows before login.
import { watch } from 'vue';
import { lang, setLang } from './i18n';
import { onSettingsLoaded, updateSettings, type ConsoleSettings } from './settings';
import { latencyMode, statsOverlay } from './tileSettings';

/** Applies `s`'s preferences to the switches. */
function apply(s: ConsoleSettings): void {
  latencyMode.value = s.low_latency ? 'low' : 'smooth';
  statsOverlay.value = s.stats_overlay;
  if (s.language && s.language !== lang.value) setLang(s.language);
}

/**
 * Binds the preferences to the settings until the returned function is called. Call it
 * before `loadSettings()` so that the loaded document reaches the switches.
 */
export function bindPreferences(): () => void {
  const stopLoaded = onSettingsLoaded(apply);
  const stopWatch = watch([latencyMode, statsOverlay, lang], () =>
    updateSettings((s) => {
      s.low_latency = latencyMode.value === 'low';
      s.stats_overlay = statsOverlay.value;
      s.language = lang.value;
    }),
  );
  return () => {
    stopLoaded();
    stopWatch();
  };
}
