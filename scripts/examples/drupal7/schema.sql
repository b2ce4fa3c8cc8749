-- Drupal 7's user tables, as modules/user/user.install and system.install
-- create them (no table prefix). `pass` holds `$S$` (Drupal 7's own
-- SHA-512), `U$S$`/`U$P$` (Drupal 6 md5 hashes upgraded by Drupal 7) or
-- phpass `$P$`/`$H$`; `data` a PHP-serialized array.
CREATE TABLE users (
  uid int unsigned NOT NULL DEFAULT 0,
  name varchar(60) NOT NULL DEFAULT '',
  pass varchar(128) NOT NULL DEFAULT '',
  mail varchar(254) DEFAULT '',
  theme varchar(255) NOT NULL DEFAULT '',
  signature varchar(255) NOT NULL DEFAULT '',
  signature_format varchar(255) DEFAULT NULL,
  created int NOT NULL DEFAULT 0,
  access int NOT NULL DEFAULT 0,
  login int NOT NULL DEFAULT 0,
  status tinyint NOT NULL DEFAULT 0,
  timezone varchar(32) DEFAULT NULL,
  language varchar(12) NOT NULL DEFAULT '',
  picture int NOT NULL DEFAULT 0,
  init varchar(254) DEFAULT '',
  data longblob,
  PRIMARY KEY (uid),
  UNIQUE KEY name (name),
  KEY access (access),
  KEY created (created),
  KEY mail (mail),
  KEY picture (picture)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE role (
  rid int unsigned NOT NULL AUTO_INCREMENT,
  name varchar(64) NOT NULL DEFAULT '',
  weight int NOT NULL DEFAULT 0,
  PRIMARY KEY (rid),
  UNIQUE KEY name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE users_roles (
  uid int unsigned NOT NULL DEFAULT 0,
  rid int unsigned NOT NULL DEFAULT 0,
  PRIMARY KEY (uid, rid),
  KEY rid (rid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

INSERT INTO role (rid, name, weight) VALUES
  (1, 'anonymous user', 0), (2, 'authenticated user', 1), (3, 'administrator', 2), (4, 'editor', 3);
