"""Throw-away PEM certificates for TLS tests: a CA, a server cert for 127.0.0.1/localhost and a
client cert, all signed by that CA (and a second, untrusted CA for negative tests)."""
import datetime
import ipaddress
import os
from typing import Dict

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject: str, key, issuer: str, issuer_key, is_ca: bool, san=None):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True))
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def write(directory: str) -> Dict[str, str]:
    """Writes ca/server/client/other_ca PEMs into directory; returns their paths by name."""
    paths = {}

    def save(name, pem: bytes):
        paths[name] = os.path.join(directory, f"{name}.pem")
        with open(paths[name], "wb") as f:
            f.write(pem)

    def key_pem(key):
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())

    cert_pem = lambda cert: cert.public_bytes(serialization.Encoding.PEM)  # noqa: E731
    for ca in ("ca", "other_ca"):
        ca_key = ec.generate_private_key(ec.SECP256R1())
        save(ca, cert_pem(_certificate(ca, ca_key, ca, ca_key, True)))
        if ca == "ca":
            for leaf, san in (("server", [x509.DNSName("localhost"),
                                          x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                              ("client", None)):
                key = ec.generate_private_key(ec.SECP256R1())
                save(f"{leaf}_key", key_pem(key))
                save(leaf, cert_pem(_certificate(leaf, key, ca, ca_key, False, san)))
    return paths
