"""The platform's document-signing PKI: a root CA and a document-signing certificate, created on first start.

Files in `settings.key_dir`: `root-ca.key`/`root-ca.pem` (self-signed CA) and `doc-signer.key`/`doc-signer.pem`
(issued by the root). Poppler's `pdfsig` calls a signature valid only if the signer certificate's extended key
usage is absent or includes emailProtection, so the document-signing certificate carries emailProtection
(and documentSigning, 1.3.6.1.5.5.7.3.36, for validators that look for it).

Keys are ECDSA P-256 (PKCS#8 PEM, mode 0600): supported by pyHanko, poppler/NSS and every PDF reader.
"""
from __future__ import annotations

import os
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROOT_KEY, ROOT_CERT = "root-ca.key", "root-ca.pem"
SIGNER_KEY, SIGNER_CERT = "doc-signer.key", "doc-signer.pem"
DOCUMENT_SIGNING_OID = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")


def _atomic_write(path: Path, data: bytes, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tenderhall"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _create(key_dir: Path, origin: str) -> None:
    now = datetime.now(timezone.utc) - timedelta(minutes=5)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name(f"tenderhall root CA ({origin})")
    root = (
        x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
        .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + timedelta(days=365 * 30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    signer_key = ec.generate_private_key(ec.SECP256R1())
    signer = (
        x509.CertificateBuilder().subject_name(_name(f"tenderhall document signing ({origin})"))
        .issuer_name(root_name).public_key(signer_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + timedelta(days=365 * 20))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING_OID]),
                       critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(signer_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    # The signer files are written last: their presence means the set is complete.
    _atomic_write(key_dir / ROOT_KEY, _key_pem(root_key), 0o600)
    _atomic_write(key_dir / ROOT_CERT, root.public_bytes(serialization.Encoding.PEM), 0o644)
    _atomic_write(key_dir / SIGNER_KEY, _key_pem(signer_key), 0o600)
    _atomic_write(key_dir / SIGNER_CERT, signer.public_bytes(serialization.Encoding.PEM), 0o644)


def ensure_document_pki(settings) -> tuple[Path, Path, Path]:
    """(signer key, signer cert, root cert) paths, creating the PKI on first use."""
    key_dir = Path(settings.key_dir)
    if not (key_dir / SIGNER_CERT).exists():
        key_dir.mkdir(parents=True, exist_ok=True)
        _create(key_dir, settings.origin)
    return key_dir / SIGNER_KEY, key_dir / SIGNER_CERT, key_dir / ROOT_CERT


def root_certificate_pem(settings) -> bytes:
    return ensure_document_pki(settings)[2].read_bytes()


def signer_certificate_pem(settings) -> bytes:
    return ensure_document_pki(settings)[1].read_bytes()
