// Builds users/webui/dist (committed): Locust's web UI from the locust-ui package plus the WebSocket view.
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// locust-ui 2.43.4 (the newest on npm) asks GET /stop and GET /stats/reset; Locust 2.47 serves them as POST only,
// as its own bundled UI sends them. Patch the two requests at build time; fail the build if they moved.
const POST_ONLY = ['url: "stop" }', 'url: "stats/reset" }'];

function locustPostOnlyRequests() {
  return {
    name: 'locust-post-only-requests',
    transform(code, id) {
      if (!id.includes('locust-ui/lib/webui.js')) return null;
      let patched = code;
      for (const request of POST_ONLY) {
        if (!patched.includes(request)) throw new Error(`locust-ui: ${request} not found; check its requests`);
        patched = patched.replace(request, request.replace(' }', ', method: "POST" }'));
      }
      return { code: patched, map: null };
    },
  };
}

export default defineConfig({
  base: './',
  plugins: [react(), locustPostOnlyRequests()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 4000, sourcemap: false },
});
