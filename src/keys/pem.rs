//! Reading key files as users have them: PEM with CRLF line endings, text before the armour, an
//! `EC PARAMETERS` block in front of the key (what `openssl ecparam -genkey` writes), or plain DER.

use super::KeyError;
use rsa::pkcs8::der::pem;
use zeroize::Zeroizing;

/// A key file's DER content and, for PEM, its label (`RSA PRIVATE KEY`, `PUBLIC KEY`, ...).
pub(crate) struct KeyFile {
    pub label: Option<String>,
    pub der: Zeroizing<Vec<u8>>,
}

/// Decodes a PEM or DER key file. PEM blocks labelled `EC PARAMETERS` are skipped.
pub(crate) fn read_key_file(bytes: &[u8]) -> Result<KeyFile, KeyError> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    let Some(first) = find(bytes, BEGIN) else {
        // Not PEM: accept it as DER if it starts with a SEQUENCE, as every key format here does.
        return match bytes.first() {
            Some(0x30) => Ok(KeyFile {
                label: None,
                der: Zeroizing::new(bytes.to_vec()),
            }),
            _ => Err(KeyError::NotAKeyFile),
        };
    };
    let mut rest = &bytes[first..];
    while let Some(block_len) = pem_block_len(rest) {
        // RFC 7468's strict decoder wants LF line endings and nothing around the armour.
        let block: Zeroizing<Vec<u8>> = Zeroizing::new(
            rest[..block_len]
                .iter()
                .copied()
                .filter(|&b| b != b'\r')
                .collect(),
        );
        if find(&block, b"ENCRYPTED").is_some() {
            return Err(KeyError::EncryptedKey);
        }
        let (label, der) = pem::decode_vec(&block).map_err(|_| KeyError::NotAKeyFile)?;
        let der = Zeroizing::new(der);
        if label != "EC PARAMETERS" {
            return Ok(KeyFile {
                label: Some(label.to_owned()),
                der,
            });
        }
        rest = &rest[block_len..];
        match find(rest, BEGIN) {
            Some(next) => rest = &rest[next..],
            None => break,
        }
    }
    Err(KeyError::NotAKeyFile)
}

/// Length of the PEM block at the start of `bytes`, through the end of its `-----END ...-----` line.
fn pem_block_len(bytes: &[u8]) -> Option<usize> {
    let end = find(bytes, b"-----END ")?;
    let close = find(&bytes[end + 9..], b"-----")? + end + 9 + 5;
    Some(close)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_with_crlf_and_preamble() {
        let pem =
            b"Bag Attributes\r\n-----BEGIN PUBLIC KEY-----\r\nMAA=\r\n-----END PUBLIC KEY-----\r\n";
        let file = read_key_file(pem).unwrap();
        assert_eq!(file.label.as_deref(), Some("PUBLIC KEY"));
        assert_eq!(&file.der[..], &[0x30, 0x00]);
    }

    #[test]
    fn ec_parameters_block_is_skipped() {
        let pem = b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n-----BEGIN EC PRIVATE KEY-----\nMAA=\n-----END EC PRIVATE KEY-----\n";
        let file = read_key_file(pem).unwrap();
        assert_eq!(file.label.as_deref(), Some("EC PRIVATE KEY"));
    }

    #[test]
    fn garbage_and_encrypted() {
        assert_eq!(read_key_file(b"hello").err(), Some(KeyError::NotAKeyFile));
        assert_eq!(read_key_file(b"").err(), Some(KeyError::NotAKeyFile));
        assert_eq!(
            read_key_file(b"-----BEGIN PUBLIC KEY-----\n").err(),
            Some(KeyError::NotAKeyFile)
        );
        let enc =
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert_eq!(read_key_file(enc).err(), Some(KeyError::EncryptedKey));
    }
}
