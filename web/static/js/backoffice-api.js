// @ts-check
/**
 * REST client for the back office (web/API.md "Contracts and verification
 * (back office)" and "Verdict"): contract search, a contract with its audit
 * trail, the verdict on a stored contract, and verification of any PDF.
 * Requests go through api.js (CSRF header, ApiError).
 * @module
 */

import { request } from './api.js';

/**
 * @typedef {{
 *   name: string,
 *   signer: 'customer'|'advisor'|string,
 *   signed: boolean,
 *   signerName?: string,
 *   signedAt?: string
 * }} Field
 * @typedef {{
 *   id: string,
 *   name: string,
 *   pages: number,
 *   size: number,
 *   sha256: string,
 *   state: 'open'|'signed'|'withdrawn',
 *   revision: number,
 *   createdAt: string,
 *   signedAt?: string,
 *   restrictedAt?: string,
 *   fields: Field[],
 *   pdfUrl: string,
 *   downloadUrl: string,
 *   consultationId: string,
 *   consultationTitle: string,
 *   advisor: string,
 *   currentSha256: string,
 *   currentSize: number
 * }} Contract
 * @typedef {{
 *   document: string,
 *   seq: number,
 *   at: string,
 *   kind: string,
 *   actor: string,
 *   detail: Record<string, unknown>|null,
 *   prevHash: string,
 *   hash: string
 * }} AuditEvent
 * @typedef {{valid: boolean, problem?: string}} AuditChain
 * @typedef {{contract: Contract, audit: AuditEvent[], auditChain: AuditChain}} ContractDetail
 * @typedef {'valid'|'valid_with_warnings'|'invalid'} VerdictKind
 * @typedef {{severity: 'error'|'warning', code: string, de: string, en: string}} Reason
 * @typedef {'bound'|'not_bound'|'not_sealed'|'missing'|'foreign_key'|'unchecked'|'none'|'typed'} EnvelopeState
 * @typedef {{
 *   field: string,
 *   signerName: string,
 *   signingTime?: string,
 *   timeStamp?: string,
 *   certificate: string,
 *   trusted: boolean,
 *   intact: boolean,
 *   coversWholeFile: boolean,
 *   level?: string,
 *   origin?: 'parley'|'third_party'|'unknown',
 *   envelope: EnvelopeState,
 *   method?: 'drawn'|'typed',
 *   development?: boolean
 * }} SignatureSummary
 * @typedef {{
 *   verdict: VerdictKind,
 *   reasons: Reason[],
 *   signatures: SignatureSummary[]|null,
 *   sha256: string,
 *   size: number
 * }} Verdict
 * @typedef {{q?: string, advisor?: string, from?: string, to?: string, state?: 'open'|'signed'|'withdrawn'|'all'}} ContractQuery
 */

/** @param {string} s */
const seg = (s) => encodeURIComponent(s);

/**
 * GET /api/v1/contracts with the non-empty search parameters.
 * @param {ContractQuery} query
 * @returns {Promise<{contracts: Contract[]}>}
 */
export function listContracts(query) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (typeof v === 'string' && v.trim() !== '') p.set(k, v.trim());
  }
  const qs = p.toString();
  return request('GET', '/api/v1/contracts' + (qs ? `?${qs}` : ''));
}

/** @param {string} id @returns {Promise<ContractDetail>} */
export const getContract = (id) => request('GET', `/api/v1/contracts/${seg(id)}`);

/** @param {string} id @returns {Promise<Verdict>} the verdict on the stored PDF */
export const verifyContract = (id) => request('GET', `/api/v1/contracts/${seg(id)}/verification`);

/** @param {string} id @returns {string} the audit trail export (a JSON attachment) */
export const auditExportUrl = (id) => `/api/v1/contracts/${seg(id)}/audit`;

/**
 * POST /api/v1/verify: any PDF, sent as application/pdf.
 * @param {Blob} file
 * @returns {Promise<Verdict>}
 */
export const verifyUpload = (file) => request('POST', '/api/v1/verify', new Blob([file], { type: 'application/pdf' }));
