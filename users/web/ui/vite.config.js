// Builds users/web/ui/dist (committed): Locust's web UI from the locust-ui package plus the WebSocket view.
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const FORM_GROUPS = fileURLToPath(new URL('./src/FormGroups.jsx', import.meta.url));

// locust-ui 2.43.4 is the newest on npm (Locust 2.47 bundles its own build, not published as a library). Patches,
// each failing the build if its text moved:
const PATCHES = [
  // Locust 2.47 serves /stop and /stats/reset as POST only, as its own bundled UI sends them.
  ['url: "stop" }', 'url: "stop", method: "POST" }'],
  ['url: "stats/reset" }', 'url: "stats/reset", method: "POST" }'],
  // Stats (and with them the state) were polled only while spawning or running: a stop that drains for a few
  // seconds left the page at CLEANUP/STOPPING with no NEW button. Poll until the run has stopped.
  [
    '} = Ef(), p = a.state === lu.SPAWNING || a.state == lu.RUNNING;',
    '} = Ef(), p = a.state !== lu.READY && a.state !== lu.STOPPED && a.state !== lu.MISSING;',
  ],
  // Charts' time axis and tooltips in 24-hour time, like the WebSocket tab's (echarts' own yyyy-MM-dd HH:mm:ss).
  ['oG = (e) => new Date(e).toLocaleTimeString()', 'oG = (e) => new Date(e).toLocaleTimeString("en-GB")'],
  ['tG(e) ? new Date(e).toLocaleString() : ""', 'tG(e) ? new Date(e).toLocaleString("sv-SE") : ""'],
  // Our fields in sections (src/FormGroups.jsx) instead of one flat "Custom parameters" list.
  ['(0, L.jsx)(xu, { extraOptions: a })', '(0, L.jsx)(WsFormGroups, { extraOptions: a })'],
];

function patchLocustUi() {
  return {
    name: 'patch-locust-ui',
    transform(code, id) {
      if (!id.includes('locust-ui/lib/webui.js')) return null;
      let patched = code;
      for (const [from, to] of PATCHES) {
        if (!patched.includes(from)) throw new Error(`locust-ui: ${from} not found; check the patch`);
        patched = patched.replace(from, to);
      }
      return { code: `import WsFormGroups from ${JSON.stringify(FORM_GROUPS)};\n${patched}`, map: null };
    },
  };
}

export default defineConfig({
  base: './',
  plugins: [react(), patchLocustUi()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 4000, sourcemap: false },
});
