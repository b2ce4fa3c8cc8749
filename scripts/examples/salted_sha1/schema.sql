-- A home-made table: sha1(salt + password) in hex, with the salt beside it,
-- and roles as a comma-separated list. pw_hash is added for the migration:
-- a user who logs in gets a bcrypt hash there, and the SHA-1 columns are
-- cleared.
CREATE TABLE accounts (
  acct_id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
  handle varchar(50) NOT NULL UNIQUE,
  mail varchar(200) NOT NULL UNIQUE,
  salt char(16) NULL,
  pw_sha1 char(40) NULL,
  pw_hash varchar(255) NULL,
  roles varchar(200) NOT NULL DEFAULT '',
  disabled char(1) NOT NULL DEFAULT 'N'
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
