-- Joomla 3's user tables, as installation/sql/mysql/joomla.sql creates them,
-- with the table prefix `jos_` (yours is in configuration.php, $dbprefix).
-- `password` holds bcrypt `$2y$` (Joomla 3.2+), `{SHA256}hex:salt`
-- (3.2.0), or md5 `hex:salt` and bare md5 (1.x to 3.1).
CREATE TABLE jos_users (
  id int NOT NULL AUTO_INCREMENT,
  name varchar(400) NOT NULL DEFAULT '',
  username varchar(150) NOT NULL DEFAULT '',
  email varchar(100) NOT NULL DEFAULT '',
  password varchar(100) NOT NULL DEFAULT '',
  block tinyint NOT NULL DEFAULT 0,
  sendEmail tinyint DEFAULT 0,
  registerDate datetime NOT NULL DEFAULT '1000-01-01 00:00:00',
  lastvisitDate datetime NOT NULL DEFAULT '1000-01-01 00:00:00',
  activation varchar(100) NOT NULL DEFAULT '',
  params text NOT NULL,
  lastResetTime datetime NOT NULL DEFAULT '1000-01-01 00:00:00',
  resetCount int NOT NULL DEFAULT 0,
  otpKey varchar(1000) NOT NULL DEFAULT '',
  otep varchar(1000) NOT NULL DEFAULT '',
  requireReset tinyint NOT NULL DEFAULT 0,
  PRIMARY KEY (id),
  KEY idx_name (name(100)),
  KEY idx_block (block),
  KEY username (username),
  KEY email (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE jos_usergroups (
  id int unsigned NOT NULL AUTO_INCREMENT,
  parent_id int unsigned NOT NULL DEFAULT 0,
  lft int NOT NULL DEFAULT 0,
  rgt int NOT NULL DEFAULT 0,
  title varchar(100) NOT NULL DEFAULT '',
  PRIMARY KEY (id),
  UNIQUE KEY idx_usergroup_parent_title_lookup (parent_id, title)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE jos_user_usergroup_map (
  user_id int unsigned NOT NULL DEFAULT 0,
  group_id int unsigned NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, group_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

INSERT INTO jos_usergroups (id, parent_id, lft, rgt, title) VALUES
  (1, 0, 1, 18, 'Public'), (2, 1, 8, 15, 'Registered'), (3, 2, 9, 14, 'Author'),
  (4, 3, 10, 13, 'Editor'), (6, 1, 4, 7, 'Manager'), (7, 6, 5, 6, 'Administrator'),
  (8, 1, 16, 17, 'Super Users'), (9, 1, 2, 3, 'Guest');
