//! Size-prefixed frames: a 4-byte big-endian length, then that many bytes.

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("connection closed")]
    Closed,
    #[error("frame size {0} is negative or exceeds socket.request.max.bytes ({1})")]
    BadSize(i64, usize),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads one frame. `Closed` means the peer closed cleanly between frames.
pub async fn read_frame<R: AsyncRead + Unpin>(reader: &mut R, max: usize) -> Result<Bytes, FrameError> {
    let mut len = [0u8; 4];
    match reader.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(FrameError::Closed),
        Err(e) => return Err(e.into()),
    }
    let size = i32::from_be_bytes(len);
    if size < 0 || size as usize > max {
        return Err(FrameError::BadSize(size as i64, max));
    }
    let mut buf = BytesMut::zeroed(size as usize);
    reader.read_exact(&mut buf).await?;
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_frames_and_rejects_lies() {
        let mut input: &[u8] = &[0, 0, 0, 2, 7, 8, 0, 0, 0, 1];
        assert_eq!(&read_frame(&mut input, 100).await.unwrap()[..], &[7, 8]);
        assert!(matches!(read_frame(&mut input, 100).await, Err(FrameError::Io(_))));
        let mut huge: &[u8] = &[0x7f, 0xff, 0xff, 0xff];
        assert!(matches!(read_frame(&mut huge, 100).await, Err(FrameError::BadSize(..))));
        let mut neg: &[u8] = &[0xff, 0xff, 0xff, 0xff];
        assert!(matches!(read_frame(&mut neg, 100).await, Err(FrameError::BadSize(..))));
        let mut empty: &[u8] = &[];
        assert!(matches!(read_frame(&mut empty, 100).await, Err(FrameError::Closed)));
    }
}
