//! Batched UDP sends: the datagrams a viewer's session produces for one frame leave in one
//! system call with Linux UDP generic segmentation offload (`UDP_SEGMENT`, Linux ≥ 4.18),
//! instead of one `sendto` each.
//!
//! Vocabulary: a **batch** is a run of datagrams to one destination, concatenated; its
//! **segment size** is the size of the first datagram. GSO needs every datagram of a batch
//! to have exactly the segment size except the last, which may be shorter — so a batch
//! closes after a shorter datagram, at [`MAX_SEGMENTS`], or before it would exceed
//! [`MAX_BATCH_BYTES`]. An SRTP-protected frame fragmented into equal FU-A payloads is one
//! batch.
//!
//! Where the kernel or the interface cannot segment (`EIO`, `EINVAL`, `ENOPROTOOPT`,
//! `EOPNOTSUPP` on the first try), [`Gso`] switches itself off for the socket and every
//! batch goes out one `send_to` per datagram, as before. Other platforms always do that.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::UdpSocket;

/// At most this many datagrams in one GSO send (the kernel's `UDP_MAX_SEGMENTS`).
pub const MAX_SEGMENTS: usize = 64;
/// At most this many bytes in one GSO send (a UDP payload's limit, rounded down).
pub const MAX_BATCH_BYTES: usize = 65_000;

/// Datagrams to one destination waiting to be sent together.
#[derive(Debug, Default)]
pub struct Batch {
    destination: Option<SocketAddr>,
    buf: Vec<u8>,
    /// The first datagram's size.
    segment: usize,
    count: usize,
    /// A datagram shorter than `segment` was added: nothing may follow it.
    closed: bool,
}

impl Batch {
    /// Adds `datagram` for `destination` if the batch can take it (same destination, GSO
    /// size rules); `false` if the batch must be sent first.
    pub fn try_push(&mut self, destination: SocketAddr, datagram: &[u8]) -> bool {
        if self.count == 0 {
            self.destination = Some(destination);
            self.segment = datagram.len();
        } else if self.closed
            || self.destination != Some(destination)
            || datagram.len() > self.segment
            || self.count >= MAX_SEGMENTS
            || self.buf.len() + datagram.len() > MAX_BATCH_BYTES
        {
            return false;
        }
        if datagram.len() < self.segment {
            self.closed = true;
        }
        self.buf.extend_from_slice(datagram);
        self.count += 1;
        true
    }

    /// Datagrams in the batch.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The datagrams, in order.
    pub fn datagrams(&self) -> impl Iterator<Item = &[u8]> {
        self.buf.chunks(self.segment.max(1)).take(self.count)
    }

    fn clear(&mut self) {
        self.destination = None;
        self.buf.clear();
        self.segment = 0;
        self.count = 0;
        self.closed = false;
    }
}

/// Whether GSO is (still) used on a socket; shared by all sessions on it.
#[derive(Debug)]
pub struct Gso {
    enabled: AtomicBool,
}

impl Gso {
    /// Tries GSO on Linux, never elsewhere.
    pub fn new() -> Gso {
        Gso {
            enabled: AtomicBool::new(cfg!(target_os = "linux")),
        }
    }

    /// Whether batches still go out in one system call.
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Sends the batch and empties it. Returns the number of datagrams that failed (an
    /// unreachable viewer is not an error of the server; the caller counts them).
    pub async fn send(&self, socket: &UdpSocket, batch: &mut Batch) -> usize {
        let Some(destination) = batch.destination else {
            return 0;
        };
        let mut failed = 0;
        if batch.count > 1 && self.enabled() {
            match send_segmented(socket, &batch.buf, batch.segment, destination).await {
                Ok(()) => {
                    batch.clear();
                    return 0;
                }
                Err(e) if gso_unsupported(&e) => {
                    tracing::info!(error = %e, "UDP GSO unavailable: one send per datagram");
                    self.enabled.store(false, Ordering::Relaxed);
                }
                Err(e) => {
                    tracing::trace!(error = %e, %destination, "send failed");
                    failed = batch.count;
                    batch.clear();
                    return failed;
                }
            }
        }
        for datagram in batch.datagrams() {
            if let Err(e) = socket.send_to(datagram, destination).await {
                tracing::trace!(error = %e, %destination, "send failed");
                failed += 1;
            }
        }
        batch.clear();
        failed
    }
}

impl Default for Gso {
    fn default() -> Self {
        Gso::new()
    }
}

fn gso_unsupported(e: &io::Error) -> bool {
    #[cfg(target_os = "linux")]
    {
        // EIO: no checksum offload on the route's device; EINVAL/ENOPROTOOPT/EOPNOTSUPP:
        // a kernel without UDP_SEGMENT.
        matches!(e.raw_os_error(), Some(5 | 22 | 92 | 95))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = e;
        true
    }
}

/// `sendmsg` with a `UDP_SEGMENT` control message: the kernel cuts `buf` into datagrams of
/// `segment` bytes (the last one may be shorter).
#[cfg(target_os = "linux")]
async fn send_segmented(
    socket: &UdpSocket,
    buf: &[u8],
    segment: usize,
    destination: SocketAddr,
) -> io::Result<()> {
    let segment = u16::try_from(segment)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "segment over 64 KiB"))?;
    let control = udp_segment_cmsg(segment);
    let address = socket2::SockAddr::from(destination);
    loop {
        socket.writable().await?;
        let sent = socket.try_io(tokio::io::Interest::WRITABLE, || {
            let bufs = [io::IoSlice::new(buf)];
            let msg = socket2::MsgHdr::new()
                .with_addr(&address)
                .with_buffers(&bufs)
                .with_control(&control);
            socket2::SockRef::from(socket).sendmsg(&msg, 0)
        });
        match sent {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(not(target_os = "linux"))]
async fn send_segmented(
    _socket: &UdpSocket,
    _buf: &[u8],
    _segment: usize,
    _destination: SocketAddr,
) -> io::Result<()> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "no UDP GSO"))
}

/// One `cmsghdr` (`SOL_UDP`, `UDP_SEGMENT`) carrying the segment size, laid out as the
/// kernel reads it: `cmsg_len` (a `size_t`), `cmsg_level` and `cmsg_type` (`int`s), the
/// data aligned to `size_t`, the whole padded to `size_t` (`CMSG_SPACE`).
#[cfg(target_os = "linux")]
fn udp_segment_cmsg(segment: u16) -> Vec<u8> {
    const SOL_UDP: i32 = 17;
    const UDP_SEGMENT: i32 = 103;
    let word = size_of::<usize>();
    let align = |n: usize| n.div_ceil(word) * word;
    let header = align(word + 8);
    let mut c = Vec::with_capacity(header + align(2));
    c.extend_from_slice(&(header + 2).to_ne_bytes()); // cmsg_len = CMSG_LEN(2)
    c.extend_from_slice(&SOL_UDP.to_ne_bytes());
    c.extend_from_slice(&UDP_SEGMENT.to_ne_bytes());
    c.resize(header, 0);
    c.extend_from_slice(&segment.to_ne_bytes());
    c.resize(header + align(2), 0);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn a_batch_takes_equal_datagrams_and_one_shorter_last() {
        let mut b = Batch::default();
        assert!(b.try_push(addr(1), &[1; 100]));
        assert!(b.try_push(addr(1), &[2; 100]));
        assert!(!b.try_push(addr(2), &[3; 100]), "another destination");
        assert!(!b.try_push(addr(1), &[3; 101]), "larger than the segment");
        assert!(b.try_push(addr(1), &[4; 40]));
        assert!(
            !b.try_push(addr(1), &[5; 40]),
            "nothing after a shorter one"
        );
        assert_eq!(b.len(), 3);
        let d: Vec<&[u8]> = b.datagrams().collect();
        assert_eq!(d, [&[1; 100][..], &[2; 100][..], &[4; 40][..]]);
    }

    #[test]
    fn a_batch_stops_at_the_segment_and_byte_limits() {
        let mut b = Batch::default();
        for _ in 0..MAX_SEGMENTS {
            assert!(b.try_push(addr(1), &[0; 10]));
        }
        assert!(!b.try_push(addr(1), &[0; 10]));
        let mut b = Batch::default();
        let big = vec![0; 20_000];
        for _ in 0..3 {
            assert!(b.try_push(addr(1), &big));
        }
        assert!(!b.try_push(addr(1), &big), "over {MAX_BATCH_BYTES} bytes");
    }

    /// Real sockets on loopback: a batch of three arrives as three datagrams, in order and
    /// intact, with GSO (which loopback supports on Linux) and without.
    #[tokio::test]
    async fn a_batch_arrives_as_separate_datagrams() {
        for use_gso in [true, false] {
            let gso = Gso::new();
            if !use_gso {
                gso.enabled.store(false, Ordering::Relaxed);
            }
            let rx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let tx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let to = rx.local_addr().unwrap();
            let mut b = Batch::default();
            assert!(b.try_push(to, &[7; 1200]));
            assert!(b.try_push(to, &[8; 1200]));
            assert!(b.try_push(to, &[9; 300]));
            assert_eq!(gso.send(&tx, &mut b).await, 0);
            assert!(b.is_empty());
            let mut buf = [0; 2000];
            for (len, byte) in [(1200, 7), (1200, 8), (300, 9)] {
                let (n, from) = rx.recv_from(&mut buf).await.unwrap();
                assert_eq!(from, tx.local_addr().unwrap());
                assert_eq!(n, len);
                assert!(buf[..n].iter().all(|&b| b == byte));
            }
            if use_gso && cfg!(target_os = "linux") {
                assert!(gso.enabled(), "GSO was refused on loopback");
            }
        }
    }
}
