-- Magento 2's customer table, the columns a login reads (as Magento 2.4's
-- db_schema.xml declares them), and its websites. An email is unique per
-- website: the connection's WEBSITE_ID says which one it serves.
-- password_hash holds `hash:salt:versions` (0 md5, 1 sha256, 2 and 3_L_T_M
-- Argon2id through libsodium).
CREATE TABLE store_website (
  website_id smallint unsigned NOT NULL AUTO_INCREMENT,
  code varchar(32) DEFAULT NULL,
  name varchar(64) DEFAULT NULL,
  PRIMARY KEY (website_id),
  UNIQUE KEY code (code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE customer_entity (
  entity_id int unsigned NOT NULL AUTO_INCREMENT,
  website_id smallint unsigned DEFAULT NULL,
  email varchar(255) DEFAULT NULL,
  group_id smallint unsigned NOT NULL DEFAULT 0,
  created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  is_active smallint unsigned NOT NULL DEFAULT 1,
  firstname varchar(255) DEFAULT NULL,
  middlename varchar(255) DEFAULT NULL,
  lastname varchar(255) DEFAULT NULL,
  dob date DEFAULT NULL,
  password_hash varchar(128) DEFAULT NULL,
  rp_token varchar(128) DEFAULT NULL,
  confirmation varchar(64) DEFAULT NULL,
  gender smallint unsigned DEFAULT NULL,
  failures_num smallint DEFAULT 0,
  lock_expires timestamp NULL DEFAULT NULL,
  PRIMARY KEY (entity_id),
  UNIQUE KEY customer_entity_email_website_id (email, website_id),
  KEY website_id (website_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

INSERT INTO store_website (website_id, code, name) VALUES (1, 'base', 'Main Website'), (2, 'b2b', 'Trade');
