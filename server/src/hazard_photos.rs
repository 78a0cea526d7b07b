//! Photos of hazard cases on disk: each file under the photo directory, in a folder per case,
//! named by the SHA-256 of its bytes (the same photo sent twice is one file), written to a
//! temporary name and renamed so a reader never sees half a photo. Only JPEG, PNG and WebP are
//! kept, recognised by their first bytes (never by what the client says they are), up to a
//! configured size.

use sha2::{Digest, Sha256};
use std::io;
use std::path::{Path, PathBuf};

/// The default most bytes a photo may have: 4 MiB (the phone view shrinks photos to ~1,600 px
/// before sending).
pub const DEFAULT_MAX_BYTES: u64 = 4 << 20;

/// Where photos are kept, and how large one may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoDir {
    dir: PathBuf,
    max_bytes: u64,
}

/// Why a photo is not kept.
#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    /// Empty, or not a name of a photo.
    #[error("{0}")]
    Refused(String),
    /// Larger than the limit.
    #[error("{0}")]
    TooLarge(String),
    /// Not a JPEG, PNG or WebP image.
    #[error("the photo is not a JPEG, PNG or WebP image")]
    NotAnImage,
    /// The disk failed.
    #[error("photo {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        source: io::Error,
    },
}

/// A photo as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedPhoto {
    /// Its SHA-256, hex.
    pub sha256: String,
    /// Its type, from its first bytes.
    pub content_type: &'static str,
    /// Its size.
    pub bytes: u64,
}

/// The type of an image from its first bytes: JPEG, PNG or WebP.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

impl PhotoDir {
    /// Photos under `dir`, at most `max_bytes` each.
    pub fn new(dir: impl Into<PathBuf>, max_bytes: u64) -> Self {
        Self { dir: dir.into(), max_bytes }
    }

    /// The most bytes a photo may have.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    fn path(&self, hazard: u32, sha256: &str) -> PathBuf {
        self.dir.join(hazard.to_string()).join(sha256)
    }

    /// Keeps `bytes` as a photo of case `hazard`.
    pub async fn save(&self, hazard: u32, bytes: &[u8]) -> Result<SavedPhoto, PhotoError> {
        if bytes.is_empty() {
            return Err(PhotoError::Refused("the photo is empty".into()));
        }
        if bytes.len() as u64 > self.max_bytes {
            return Err(PhotoError::TooLarge(format!(
                "the photo is {} KiB; at most {} KiB is kept (shrink it first)",
                bytes.len().div_ceil(1024),
                self.max_bytes / 1024
            )));
        }
        let content_type = sniff(bytes).ok_or(PhotoError::NotAnImage)?;
        let sha256 = hex(&Sha256::digest(bytes));
        let path = self.path(hazard, &sha256);
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| PhotoError::Io { path, source }
        };
        if !tokio::fs::try_exists(&path).await.map_err(io(&path))? {
            let folder = path.parent().unwrap_or(&self.dir);
            tokio::fs::create_dir_all(folder).await.map_err(io(folder))?;
            let partial = path.with_extension("partial");
            tokio::fs::write(&partial, bytes).await.map_err(io(&partial))?;
            tokio::fs::rename(&partial, &path).await.map_err(io(&path))?;
        }
        Ok(SavedPhoto { sha256, content_type, bytes: bytes.len() as u64 })
    }

    /// The bytes of the photo `sha256` of case `hazard`.
    pub async fn read(&self, hazard: u32, sha256: &str) -> Result<Vec<u8>, PhotoError> {
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(PhotoError::Refused(format!("{sha256:?} is not a photo's name")));
        }
        let path = self.path(hazard, sha256);
        tokio::fs::read(&path).await.map_err(|source| PhotoError::Io { path: path.display().to_string(), source })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG_1X1: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

    #[tokio::test]
    async fn a_photo_is_kept_once_under_its_hash_and_only_if_it_is_an_image() {
        let dir = tempfile::tempdir().unwrap();
        let photos = PhotoDir::new(dir.path(), 64);
        let saved = photos.save(7, PNG_1X1).await.unwrap();
        assert_eq!(saved.content_type, "image/png");
        // The SHA-256 of these bytes, as `sha256sum` gives it.
        assert_eq!(saved.sha256, hex(&Sha256::digest(PNG_1X1)));
        assert_eq!(photos.save(7, PNG_1X1).await.unwrap(), saved);
        assert_eq!(photos.read(7, &saved.sha256).await.unwrap(), PNG_1X1);
        assert_eq!(std::fs::read_dir(dir.path().join("7")).unwrap().count(), 1);
        let refused = |r: Result<SavedPhoto, PhotoError>| match r {
            Err(e @ (PhotoError::Refused(_) | PhotoError::TooLarge(_) | PhotoError::NotAnImage)) => e.to_string(),
            other => panic!("{other:?}"),
        };
        assert!(refused(photos.save(7, b"GIF89a....").await).contains("not a JPEG, PNG or WebP"));
        assert!(refused(photos.save(7, &[0xFF; 65]).await).contains("at most 0 KiB"));
        assert!(refused(photos.save(7, b"").await).contains("empty"));
        assert!(photos.read(7, "../../etc/passwd").await.is_err());
    }
}
