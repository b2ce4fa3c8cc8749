#!/usr/bin/python3
"""Re-verifies the password hashes of a `customdb export` file with
independent implementations (passlib, Python's hashlib and hmac, PHP's
password_verify and libsodium), never customdb's: each carried hash is
rebuilt from the target platform's own fields, as that platform reads them,
and must accept the user's password and refuse a wrong one.

    export_check.py FORMAT PASSWORDS.json FILE...
PASSWORDS.json maps user_id to the password. Prints
`export-check: N verified, M failed` and exits 1 on a failure.
"""
import base64
import hashlib
import hmac
import json
import subprocess
import sys

from passlib import hash as h


def php(code, *args):
    return subprocess.run(["php", "-r", code, "--", *args], capture_output=True, text=True, check=True).stdout


def php_verify(pw, stored):
    return php('echo password_verify($argv[1], $argv[2]) ? "1" : "0";', pw, stored) == "1"


def b64(text):
    return base64.b64decode(text + "=" * (-len(text) % 4))


def ab64(text):
    return b64(text.replace(".", "+"))


def bcrypt(pw, stored):
    return h.bcrypt.verify(pw, stored.replace("$2y$", "$2b$", 1))


def pbkdf2(pw, digest, salt, rounds, key):
    return hashlib.pbkdf2_hmac(digest, pw.encode(), salt, rounds, len(key)) == key


def phc_pbkdf2(pw, text):
    # $pbkdf2-<d>$i=N,l=L$<B64 salt>$<B64 key>
    _, name, params, salt, key = text.split("$")
    kv = dict(p.split("=") for p in params.split(","))
    key = b64(key)
    assert int(kv["l"]) == len(key)
    return pbkdf2(pw, name.split("-")[1], b64(salt), int(kv["i"]), key)


def ldap(pw, stored):
    name = stored[1:stored.index("}")].lower()
    scheme = {
        "ssha": h.ldap_salted_sha1, "ssha256": h.ldap_salted_sha256, "ssha512": h.ldap_salted_sha512,
        "smd5": h.ldap_salted_md5, "sha": h.ldap_sha1, "md5": h.ldap_md5,
    }.get(name)
    if scheme is not None:
        return scheme.verify(pw, stored)
    digest = {"sha256": "sha256", "sha512": "sha512"}[name]
    return base64.b64decode(stored[stored.index("}") + 1:]) == hashlib.new(digest, pw.encode()).digest()


def salted_digest(pw, algorithm, value, salt, suffix):
    data = pw.encode() + salt if suffix else salt + pw.encode()
    return hashlib.new(algorithm, data).digest() == value


def decode(value, encoding):
    return bytes.fromhex(value) if encoding == "hex" else (value.encode() if encoding == "utf8" else b64(value))


def auth0(pw, record):
    c = record.get("custom_password_hash")
    if c is None:
        return None
    a = c["algorithm"]
    value = c["hash"]["value"]
    if a == "bcrypt":
        return bcrypt(pw, value)
    if a == "argon2":
        return php_verify(pw, value)
    if a == "ldap":
        return ldap(pw, value)
    if a == "pbkdf2":
        return phc_pbkdf2(pw, value)
    if a == "scrypt":
        key = b64(value)
        return hashlib.scrypt(pw.encode(), salt=b64(c["salt"]["value"]), n=c["cost"], r=c["blockSize"],
                              p=c["parallelization"], dklen=c["keylen"], maxmem=1 << 30) == key
    if a == "hmac":
        key = decode(c["hash"]["key"]["value"], c["hash"]["key"]["encoding"])
        return hmac.new(key, pw.encode(), c["hash"]["digest"]).digest() == decode(value, c["hash"]["encoding"])
    salt = c.get("salt")
    return salted_digest(pw, a, decode(value, c["hash"]["encoding"]),
                         decode(salt["value"], salt["encoding"]) if salt else b"",
                         bool(salt) and salt["position"] == "suffix")


def okta(pw, record):
    c = record["body"].get("credentials")
    if c is None:
        return None
    x = c["password"]["hash"]
    a = x["algorithm"]
    if a == "BCRYPT":
        return bcrypt(pw, "$2b$%02d$%s%s" % (x["workFactor"], x["salt"], x["value"]))
    if a == "PBKDF2":
        digest = {"SHA256_HMAC": "sha256", "SHA512_HMAC": "sha512"}[x["digestAlgorithm"]]
        key = b64(x["value"])
        assert len(key) == x["keySize"]
        return pbkdf2(pw, digest, b64(x["salt"]), x["iterationCount"], key)
    digest = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-512": "sha512"}[a]
    salt = b64(x["salt"]) if "salt" in x else b""
    return salted_digest(pw, digest, b64(x["value"]), salt, x.get("saltOrder") == "POSTFIX")


def kratos(pw, record):
    config = record["create"].get("credentials", {}).get("password", {}).get("config", {})
    s = config.get("hashed_password")
    if not s:
        return None
    if s.startswith("$2"):
        return bcrypt(pw, s)
    if s.startswith("$argon2"):
        return php_verify(pw, s)
    if s.startswith("{"):
        return ldap(pw, s)
    parts = s.split("$")
    name = parts[1]
    if name.startswith("pbkdf2"):
        return phc_pbkdf2(pw, s)
    if name == "scrypt":
        kv = dict(p.split("=") for p in parts[2].split(","))
        key = b64(parts[4])
        # Kratos's ln is N itself
        return hashlib.scrypt(pw.encode(), salt=b64(parts[3]), n=int(kv["ln"]), r=int(kv["r"]),
                              p=int(kv["p"]), dklen=len(key), maxmem=1 << 30) == key
    if name in ("sha256-crypt", "sha512-crypt"):
        crypt = "$5$" if name == "sha256-crypt" else "$6$"
        scheme = h.sha256_crypt if name == "sha256-crypt" else h.sha512_crypt
        return scheme.verify(pw, crypt + "$".join(parts[2:]))
    if name == "md5-crypt":
        return h.md5_crypt.verify(pw, "$1$" + "$".join(parts[2:]))
    if name.startswith("hmac-"):
        return hmac.new(b64(parts[3]), pw.encode(), name[5:]).hexdigest().encode() == b64(parts[2])
    if name == "md5" and not parts[2].startswith("pf="):
        return hashlib.md5(pw.encode()).digest() == b64(parts[2])
    # $<d>$pf=<b64 template>$<b64 salt>$<b64 digest>
    template = b64(parts[2][3:]).decode()
    salt = b64(parts[3])
    data = template.replace("{PASSWORD}", "\0P\0").replace("{SALT}", "\0S\0")
    out = b""
    for piece in data.split("\0"):
        out += pw.encode() if piece == "P" else salt if piece == "S" else piece.encode()
    return hashlib.new(name, out).digest() == b64(parts[4])


def fusionauth(pw, record):
    scheme = record.get("encryptionScheme")
    if scheme is None:
        return None
    salt, password, factor = record["salt"], record["password"], record["factor"]
    if scheme == "bcrypt":
        return bcrypt(pw, "$2a$%02d$%s%s" % (factor, salt, password))
    if scheme.startswith("salted-pbkdf2-hmac-"):
        digest = "sha512" if "sha512" in scheme else "sha256"
        key = b64(password)
        assert len(key) == (64 if scheme.endswith("-512") else 32)
        return pbkdf2(pw, digest, b64(salt), factor, key)
    if scheme in ("salted-md5", "salted-sha256"):
        digest = "md5" if scheme == "salted-md5" else "sha256"
        return hashlib.new(digest, pw.encode() + b64(salt)).digest() == b64(password)
    if scheme == "salted-hmac-sha256":
        return hmac.new(b64(salt), pw.encode(), "sha256").digest() == b64(password)
    if scheme == "phpass-md5":
        s = b64(salt)
        d = hashlib.md5(s + pw.encode()).digest()
        for _ in range(factor):
            d = hashlib.md5(d + pw.encode()).digest()
        return d == b64(password)
    raise SystemExit(f"no check for FusionAuth's {scheme}")


def keycloak(pw, record):
    creds = record.get("credentials")
    if not creds:
        return None
    secret = json.loads(creds[0]["secretData"])
    cred = json.loads(creds[0]["credentialData"])
    value, salt = b64(secret["value"]), b64(secret["salt"])
    a = cred["algorithm"]
    if a.startswith("pbkdf2"):
        digest = {"pbkdf2": "sha1", "pbkdf2-sha256": "sha256", "pbkdf2-sha512": "sha512"}[a]
        return pbkdf2(pw, digest, salt, cred["hashIterations"], value)
    p = cred["additionalParameters"]
    version = {"1.3": "19", "1.0": "16"}[p["version"][0]]
    assert int(p["hashLength"][0]) == len(value)
    # rebuilt as the PHC string PHP's password_verify (libargon2) reads
    phc = "$argon2%s$v=%s$m=%s,t=%d,p=%s$%s$%s" % (
        p["type"][0], version, p["memory"][0], cred["hashIterations"], p["parallelism"][0],
        base64.b64encode(salt).decode().rstrip("="), base64.b64encode(value).decode().rstrip("="))
    return php_verify(pw, phc)


def records(fmt, doc):
    if fmt in ("auth0", "okta"):
        return doc
    if fmt == "kratos":
        return doc["identities"]
    return doc["users"]


def user_id(fmt, r):
    return {
        "auth0": lambda: r["user_id"],
        "okta": lambda: r["body"]["profile"]["legacyUserId"],
        "kratos": lambda: r["create"]["external_id"],
        "fusionauth": lambda: r["data"]["legacy_user_id"],
        "keycloak": lambda: r["attributes"]["legacy_user_id"][0],
    }[fmt]()


def main():
    fmt, passwords = sys.argv[1], json.load(open(sys.argv[2]))
    check = {"auth0": auth0, "okta": okta, "kratos": kratos, "fusionauth": fusionauth, "keycloak": keycloak}[fmt]
    verified = failed = 0
    for path in sys.argv[3:]:
        for r in records(fmt, json.load(open(path))):
            uid = user_id(fmt, r)
            pw = passwords[uid]
            right = check(pw, r)
            if right is None:
                continue
            if right and not check(pw + "x", r):
                verified += 1
            else:
                failed += 1
                print(f"export-check: {fmt} user {uid} does not verify")
    print(f"export-check: {verified} verified, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
