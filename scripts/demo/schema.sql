-- The demo connection's legacy user table, as an old application left it:
-- its own column names, a bcrypt column, TINYINT flags, preferences in a JSON
-- column (user_metadata) and roles in a JSON column the old code called
-- `metadata` (app_metadata). Loaded by tools/demo into a fresh database.

CREATE TABLE members (
  member_id    INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  login_name   VARCHAR(64)  NULL UNIQUE,
  email_addr   VARCHAR(320) NOT NULL UNIQUE,
  pass_hash    VARCHAR(255) NOT NULL,
  first_name   VARCHAR(100) NULL,
  last_name    VARCHAR(100) NULL,
  display_name VARCHAR(200) NULL,
  is_verified  TINYINT(1)   NOT NULL DEFAULT 0,
  is_blocked   TINYINT(1)   NOT NULL DEFAULT 0,
  prefs        JSON         NULL,
  metadata     JSON         NULL,
  created_at   DATETIME     NOT NULL DEFAULT CURRENT_TIMESTAMP
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Passwords: jane "correct horse battery staple", bob "bob-password-1",
-- mallory "mallory-password-1" (blocked).
INSERT INTO members
  (login_name, email_addr, pass_hash, first_name, last_name, display_name, is_verified, is_blocked, prefs, metadata)
VALUES
  ('jane', 'jane.doe@example.com', '$2b$10$Wa/Qas3cAcaRpNxqgBnwees/dvqAswyPiG0rMzqLZnyLqAuWj/gWK',
   'Jane', 'Doe', 'Jane Doe', 1, 0, '{"hobby": "surfing", "theme": "dark"}', '{"plan": "full", "roles": ["admin"]}'),
  ('bob', 'bob@example.com', '$2b$10$s6Ab5H6JCWx6nLaqObG7Ru7hcgEt7s7sAw9WDiCpV9aK3O9f0n2Km',
   'Bob', NULL, NULL, 0, 0, NULL, '{"plan": "free"}'),
  ('mallory', 'mallory@example.com', '$2b$10$inOu3Nr74IdxHgPuJcZajuIAa7wFnHAQa9krO7SKwgcigzH7D3Fje',
   'Mallory', NULL, NULL, 1, 1, '{}', '{}');
