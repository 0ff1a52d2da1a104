-- Organisations, users, roles, bearer tokens.
CREATE TABLE organisations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind text NOT NULL CHECK (kind IN ('tenderer', 'agency', 'bidder', 'bank', 'other')),
    -- 统一社会信用代码, GB 32100-2015; the check character is verified by the service.
    credit_code text NOT NULL UNIQUE CHECK (credit_code ~ '^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$'),
    legal_representative text,
    approved boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL
);

CREATE TABLE users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id uuid REFERENCES organisations (id),
    username text NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9_.@-]{3,64}$'),
    display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
    password_hash text NOT NULL,
    roles text[] NOT NULL CHECK (
        cardinality(roles) >= 1
        AND roles <@ ARRAY['admin', 'agency', 'bidder', 'custodian', 'expert', 'regulator', 'witness']::text[]
    ),
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL
);
CREATE INDEX users_org_idx ON users (org_id);

-- Bearer tokens are stored only as their SHA-256.
CREATE TABLE auth_tokens (
    token_hash bytea PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    addr text
);
CREATE INDEX auth_tokens_user_idx ON auth_tokens (user_id);

-- Ed25519 identity public keys of bidders and custodians (private keys stay on their machines).
-- An admin approves a registration before the key is trusted.
CREATE TABLE identity_keys (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES users (id),
    algorithm text NOT NULL DEFAULT 'ed25519' CHECK (algorithm IN ('ed25519')),
    public_key bytea NOT NULL UNIQUE CHECK (length(public_key) = 32),
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'revoked')),
    registered_at timestamptz NOT NULL,
    approved_by uuid REFERENCES users (id),
    approved_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX identity_keys_user_idx ON identity_keys (user_id, status);
