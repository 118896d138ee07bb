import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The dashboard is served by `palisade server` at `/` and calls the REST API on the same origin.
export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 600 },
  server: { proxy: { '/api': 'http://127.0.0.1:8080' } },
});
