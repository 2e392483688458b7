/*
 * next.config.mjs - the native addon is required at run time from
 * node_modules (never bundled): it loads community.node and the
 * libcommunity.so.0 beside it.
 *
 * NEXT_OUTPUT=standalone (the web image, deploy/Dockerfile) builds
 * .next/standalone: server.js with only the node_modules it needs, traced
 * from this folder.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const standalone = process.env.NEXT_OUTPUT === 'standalone';
/** @type {import('next').NextConfig} */
const nextConfig = {
  serverExternalPackages: ['@libcommunity/node'],
  poweredByHeader: false,
  ...(standalone ? {
    output: 'standalone',
    outputFileTracingRoot: path.dirname(fileURLToPath(import.meta.url)),
  } : {}),
};

export default nextConfig;
