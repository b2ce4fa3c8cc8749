#!/usr/bin/python3
"""Hashes at each format's default cost, made by the software that writes
them, with the time that software takes to verify each (median of a few
runs, in its own process). Writes a TSV that `examples/hash_bench` reads to
time customdb's verify of the same hashes. tools/bench-hashes runs both.

    hashes.py OUT.tsv
Each line: label, how (verify | verify_as:FORMAT | keycloak), password,
stored, extra (Keycloak's credential data, or ""), reference, reference ms.
"""
import base64
import ctypes
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time

from passlib import hash as h

PW = "correct horse battery staple"
RUNS = 5


def timed(f):
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        ok = f()
        times.append((time.perf_counter() - started) * 1000)
        assert ok, "the reference refused its own hash"
    return statistics.median(times)


def php(code, *args):
    return subprocess.run(["php", "-r", code, "--", *args], capture_output=True, text=True, check=True).stdout


def php_timed(verify_code, stored, prelude=""):
    """PHP's own time for `verify_code` ($pw, $stored), median of RUNS, measured inside PHP."""
    out = php(prelude + '$pw = $argv[1]; $stored = $argv[2]; $t = [];'
              'for ($i = 0; $i < ' + str(RUNS) + '; $i++) { $s = hrtime(true); $ok = (' + verify_code + ');'
              ' $t[] = (hrtime(true) - $s) / 1e6; if (!$ok) { exit(1); } }'
              'sort($t); echo $t[intdiv(count($t), 2)];', PW, stored)
    return float(out)


LIBCRYPT = ctypes.CDLL("libcrypt.so.1")
LIBCRYPT.crypt.restype = ctypes.c_char_p
LIBCRYPT.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
LIBCRYPT.crypt_gensalt.restype = ctypes.c_char_p
LIBCRYPT.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "vectors"))
import legacy  # noqa: E402  (the vectors' generators: Drupal, Magento, Spring, ASP.NET, Keycloak)


def rows():
    bcrypt = php('echo password_hash($argv[1], PASSWORD_BCRYPT);', PW)
    yield "bcrypt (PHP default, cost 10)", "verify", bcrypt, "", "PHP", php_timed("password_verify($pw, $stored)", bcrypt)
    argon = php('echo password_hash($argv[1], PASSWORD_ARGON2ID);', PW)
    yield "Argon2id (PHP default, 64 MiB, t = 4)", "verify", argon, "", "PHP", php_timed("password_verify($pw, $stored)", argon)
    for label, scheme in [
        ("scrypt (passlib default, N = 2^16)", h.scrypt),
        ("SHA-512-crypt (passlib default, 656,000 rounds)", h.sha512_crypt),
        ("SHA-256-crypt (passlib default, 535,000 rounds)", h.sha256_crypt),
        ("MD5-crypt", h.md5_crypt),
        ("passlib PBKDF2-SHA256 (29,000 rounds)", h.pbkdf2_sha256),
        ("LDAP {SSHA}", h.ldap_salted_sha1),
        ("LDAP {PBKDF2-SHA256} (29,000 rounds)", h.ldap_pbkdf2_sha256),
    ]:
        stored = scheme.hash(PW)
        yield label, "verify", stored, "", "passlib", timed(lambda: scheme.verify(PW, stored))
    phpass = h.phpass.using(rounds=13).hash(PW)
    yield "phpass $P$B (WordPress)", "verify", phpass, "", "passlib", timed(lambda: h.phpass.verify(PW, phpass))
    django = h.django_pbkdf2_sha256.using(rounds=1_000_000).hash(PW)
    yield "Django PBKDF2-SHA256 (Django 5.2, 1,000,000 rounds)", "verify", django, "", "passlib", timed(lambda: h.django_pbkdf2_sha256.verify(PW, django))
    drupal = legacy.drupal(PW)
    yield "Drupal 7 $S$D (2^15)", "verify", drupal, "", "PHP (Drupal 7's code)", php_timed(
        "_password_crypt('sha512', $pw, $stored) === $stored", drupal, legacy.DRUPAL)
    yescrypt = LIBCRYPT.crypt(PW.encode(), LIBCRYPT.crypt_gensalt(b"$y$", 0, None, 0)).decode()
    yield "yescrypt (libxcrypt default, j9T)", "verify", yescrypt, "", "libxcrypt", timed(
        lambda: LIBCRYPT.crypt(PW.encode(), yescrypt.encode()).decode() == yescrypt)
    spring = legacy.spring_pbkdf2(PW, "{pbkdf2@SpringSecurity_v5_8}", "sha256", 16, 310000)
    yield "Spring {pbkdf2@SpringSecurity_v5_8} (310,000 rounds)", "verify", spring, "", "hashlib", timed(
        lambda: legacy.check("spring_pbkdf2_v5_8", PW, spring, None))
    scrypt = legacy.spring_scrypt(PW, ln=16)
    yield "Spring {scrypt@SpringSecurity_v5_8} (N = 2^16)", "verify", scrypt, "", "hashlib", timed(
        lambda: legacy.check("spring_scrypt", PW, scrypt, None))
    magento = legacy.magento(PW, "2")
    yield "Magento 2 version 2 (Argon2id, 64 MiB)", "verify_as:magento2", magento, "", "PHP (libsodium)", php_timed(
        "magento($pw, explode(':', $stored)[1], explode(':', $stored, 3)[2]) === $stored", magento, legacy.MAGENTO)
    aspnet = legacy.aspnet_v3(PW, 2, 100000)
    yield "ASP.NET Identity v3 (.NET 8: SHA-512, 100,000 rounds)", "verify_as:aspnet_identity", aspnet, "", "hashlib", timed(
        lambda: legacy.aspnet_check(PW, aspnet))
    secret, cred = legacy.keycloak_pbkdf2(PW, "pbkdf2-sha256", 27500)
    yield "Keycloak pbkdf2-sha256 (27,500 rounds)", "keycloak", secret, cred, "hashlib", timed(
        lambda: legacy.keycloak_check(PW, secret, cred))
    secret, cred = legacy.keycloak_argon2(PW)
    yield "Keycloak argon2 (Keycloak 24 default)", "keycloak", secret, cred, "PHP (libsodium)", php_timed(
        "base64_encode(sodium_crypto_pwhash(32, $pw, base64_decode(json_decode($stored)->salt), 5, 7168 * 1024,"
        " SODIUM_CRYPTO_PWHASH_ALG_ARGON2ID13)) === json_decode($stored)->value", secret)


def main():
    with open(sys.argv[1], "w", encoding="utf-8") as out:
        for label, how, stored, extra, reference, ms in rows():
            out.write("\t".join([label, how, PW, stored, extra, reference, f"{ms:.2f}"]) + "\n")


if __name__ == "__main__":
    main()
