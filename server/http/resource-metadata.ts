import type { OAuthConfig } from '../auth/oauth.js';

/**
 * OAuth 2.0 Protected Resource Metadata (RFC 9728), which the MCP authorization spec requires of a
 * resource server: the resource URL (the MCP endpoint), the authorization server that issues its
 * tokens, and how tokens are sent. §3.1: the well-known segment goes between host and path.
 */
export function resourceUrls(base: string): { resource: string; metadata: string; metadataPath: string } {
  const u = new URL(base);
  const prefix = u.pathname.replace(/\/+$/, '');
  const resourcePath = prefix.endsWith('/mcp') ? prefix : `${prefix}/mcp`;
  const metadataPath = `/.well-known/oauth-protected-resource${resourcePath}`;
  return { resource: `${u.origin}${resourcePath}`, metadata: `${u.origin}${metadataPath}`, metadataPath };
}

export function protectedResourceMetadata(resource: string, oauth: Omit<OAuthConfig, 'audience'>): Record<string, unknown> {
  return {
    resource,
    authorization_servers: [oauth.issuer],
    bearer_methods_supported: ['header'],
    resource_name: 'vast-mcp',
    ...(oauth.requiredScopes.length ? { scopes_supported: oauth.requiredScopes } : {}),
  };
}
