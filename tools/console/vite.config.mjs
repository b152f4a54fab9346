import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Built into the policy service's dist/console, so the service (and its container image, which copies
// each service's dist) carries the console; services/policy/src/admin/console.controller.ts serves it.
export default defineConfig({
  base: '/console/',
  plugins: [react()],
  build: {
    outDir: '../../services/policy/dist/console',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 2000,
  },
});
