-- Parley records, schema version 7: staff accounts bound to an account at
-- the company's OpenID Connect provider (single sign-on).

-- "<issuer> <subject>" of the provider account this staff account signs on
-- as (NULL: password only). The subject is the provider's stable id, so a
-- renamed provider account stays the same staff account.
ALTER TABLE users ADD COLUMN oidc_subject TEXT;
CREATE UNIQUE INDEX users_oidc_subject ON users (oidc_subject);
