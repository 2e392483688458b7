/*
 * next.config.mjs - the native addon is required at run time from
 * node_modules (never bundled): it loads community.node and the
 * libcommunity.so.0 beside it.
 */
/** @type {import('next').NextConfig} */
const nextConfig = {
  serverExternalPackages: ['@libcommunity/node'],
  poweredByHeader: false,
};

export default nextConfig;
