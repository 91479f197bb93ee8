export interface RequestRecord {
  at: number;
  method: string;
  path: string;
  query: Record<string, unknown>;
  auth: 'bearer' | 'query' | 'none';
  status: number;
  unexpected: boolean;
}
