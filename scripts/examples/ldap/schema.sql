-- An LDAP directory exported to a table: one row per inetOrgPerson entry
-- (an ldapsearch or slapcat dump loaded as is), the attributes a login
-- reads. userPassword holds whatever the directory stored: {SSHA} (OpenLDAP's
-- default), {SSHA256}/{SSHA512}, {SHA}, {MD5}, {PBKDF2-SHA256} (pw-pbkdf2),
-- or {CRYPT} with a crypt(3) form ($6$, $2b$, $y$...).
CREATE TABLE ldap_people (
  dn varchar(255) NOT NULL,
  uid varchar(64) NOT NULL,
  mail varchar(255) DEFAULT NULL,
  cn varchar(255) DEFAULT NULL,
  givenName varchar(255) DEFAULT NULL,
  sn varchar(255) DEFAULT NULL,
  userPassword varchar(512) DEFAULT NULL,
  -- the DNs of the groups (memberOf), a JSON array
  memberOf text DEFAULT NULL,
  -- 389 Directory Server's and OpenDJ's lock flag
  nsAccountLock varchar(5) DEFAULT NULL,
  PRIMARY KEY (dn),
  UNIQUE KEY uid (uid),
  KEY mail (mail)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
