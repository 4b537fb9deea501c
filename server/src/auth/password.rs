//! Argon2id hashing on a fixed pool of threads fed by a bounded queue: CPU use, memory and
//! waiting stay bounded however many sign-ins arrive at once, and a job that finds the queue
//! full is refused at once. A thread holds its 19 MiB block only while it has work (reused
//! from job to job while the queue has more), and gives it back to the system when idle.

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use crossbeam_channel::{Receiver, Sender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use subtle::ConstantTimeEq;
use tokio::sync::oneshot;

/// OWASP's recommended Argon2id settings: 19 MiB, two passes, one lane.
pub const MEMORY_KIB: u32 = 19 * 1024;
pub const PASSES: u32 = 2;
pub const LANES: u32 = 1;
const OUTPUT_LEN: usize = 32;
/// Jobs that may wait per hashing thread: about a quarter of a second of work each.
const QUEUE_PER_WORKER: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("stored password hash is malformed")]
    Malformed,
    #[error("argon2 failed: {0}")]
    Argon(String),
    #[error("the hashing pool has stopped")]
    Stopped,
    #[error("the hashing queue is full")]
    Busy,
}

/// The result of checking a password.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Correct, but stored with weaker settings than today's: store a new hash.
    YesRehash,
}

enum Job {
    Hash(String, oneshot::Sender<Result<String, HashError>>),
    Verify(String, String, oneshot::Sender<Result<Verified, HashError>>),
}

#[derive(Clone)]
pub struct Hasher {
    jobs: Sender<Job>,
    dummy: Arc<str>,
    computations: Arc<AtomicU64>,
}

fn params() -> Params {
    Params::new(MEMORY_KIB, PASSES, LANES, Some(OUTPUT_LEN)).expect("valid argon2 parameters")
}

impl Hasher {
    /// Starts `workers` hashing threads, with room for `QUEUE_PER_WORKER` waiting jobs each.
    pub fn new(workers: usize) -> Self {
        Self::with_queue(workers, workers.max(1) * QUEUE_PER_WORKER)
    }

    /// Starts `workers` hashing threads; at most `queue` jobs wait for them, and more are
    /// refused with `HashError::Busy`.
    pub fn with_queue(workers: usize, queue: usize) -> Self {
        // Every thread takes jobs from one queue, without a lock, so each can see when it is
        // empty.
        let (tx, rx) = crossbeam_channel::bounded::<Job>(queue.max(1));
        let computations = Arc::new(AtomicU64::new(0));
        for i in 0..workers.max(1) {
            let (rx, computations) = (rx.clone(), computations.clone());
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || worker(rx, computations))
                .expect("spawn a hashing thread");
        }
        let dummy =
            hash_with(&mut blocks(), "a password nobody has").expect("hash the dummy password");
        Self {
            jobs: tx,
            dummy: dummy.into(),
            computations,
        }
    }

    /// How many hashes and verifications the workers have run: a metric, and how tests prove
    /// that a refused attempt cost no argon2 work.
    pub fn computations(&self) -> u64 {
        self.computations.load(Ordering::SeqCst)
    }

    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let (tx, rx) = oneshot::channel();
        self.submit(Job::Hash(password.to_owned(), tx))?;
        rx.await.map_err(|_| HashError::Stopped)?
    }

    pub async fn verify(&self, stored: &str, password: &str) -> Result<Verified, HashError> {
        let (tx, rx) = oneshot::channel();
        self.submit(Job::Verify(stored.to_owned(), password.to_owned(), tx))?;
        rx.await.map_err(|_| HashError::Stopped)?
    }

    /// Spends the same time as a real check, for addresses that have no account.
    pub async fn verify_dummy(&self, password: &str) -> Result<(), HashError> {
        self.verify(&self.dummy, password).await.map(|_| ())
    }

    fn submit(&self, job: Job) -> Result<(), HashError> {
        self.jobs.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => HashError::Busy,
            TrySendError::Disconnected(_) => HashError::Stopped,
        })
    }
}

fn worker(rx: Receiver<Job>, computations: Arc<AtomicU64>) {
    lower_priority();
    let mut memory: Option<Vec<Block>> = None;
    loop {
        let job = match rx.try_recv() {
            Ok(job) => job,
            Err(TryRecvError::Empty) => {
                // Nothing waiting: give the block back before sleeping on the queue.
                memory = None;
                match rx.recv() {
                    Ok(job) => job,
                    Err(_) => return,
                }
            }
            Err(TryRecvError::Disconnected) => return,
        };
        let memory = memory.get_or_insert_with(blocks);
        match job {
            Job::Hash(pw, reply) => {
                let hashed = hash_with(memory, &pw);
                computations.fetch_add(1, Ordering::SeqCst);
                let _ = reply.send(hashed);
            }
            Job::Verify(stored, pw, reply) => {
                let verified = verify_with(memory, &stored, &pw);
                computations.fetch_add(1, Ordering::SeqCst);
                let _ = reply.send(verified);
            }
        }
    }
}

/// One hash's memory (19 MiB).
fn blocks() -> Vec<Block> {
    vec![Block::default(); params().block_count()]
}

/// Hashing threads yield the CPU to request handling: a storm of sign-ins then slows only the
/// sign-ins, not every other page.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority has no memory effects; on Linux, `who = 0` names the calling thread.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

fn hash_with(memory: &mut Vec<Block>, password: &str) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| HashError::Argon(e.to_string()))?;
    let params = params();
    let mut out = [0u8; OUTPUT_LEN];
    compute(memory, &params, password, &salt, &mut out)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| HashError::Argon(e.to_string()))?;
    let output = Output::new(&out).map_err(|e| HashError::Argon(e.to_string()))?;
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: (&params)
            .try_into()
            .map_err(|e: argon2::password_hash::Error| HashError::Argon(e.to_string()))?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

fn verify_with(
    memory: &mut Vec<Block>,
    stored: &str,
    password: &str,
) -> Result<Verified, HashError> {
    let phc = PasswordHash::new(stored).map_err(|_| HashError::Malformed)?;
    if phc.algorithm != argon2::ARGON2ID_IDENT {
        return Err(HashError::Malformed);
    }
    let params = Params::try_from(&phc).map_err(|_| HashError::Malformed)?;
    let expected = phc.hash.ok_or(HashError::Malformed)?;
    let mut salt = [0u8; 64];
    let salt = phc
        .salt
        .ok_or(HashError::Malformed)?
        .decode_b64(&mut salt)
        .map_err(|_| HashError::Malformed)?;
    let mut out = vec![0u8; expected.len()];
    compute(memory, &params, password, salt, &mut out)?;
    if !bool::from(out.as_slice().ct_eq(expected.as_bytes())) {
        return Ok(Verified::No);
    }
    let weaker = params.m_cost() < MEMORY_KIB || params.t_cost() < PASSES;
    Ok(if weaker {
        Verified::YesRehash
    } else {
        Verified::Yes
    })
}

fn compute(
    memory: &mut Vec<Block>,
    params: &Params,
    password: &str,
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), HashError> {
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(
            password.as_bytes(),
            salt,
            out,
            &mut memory[..params.block_count()],
        )
        .map_err(|e| HashError::Argon(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_only_its_own_password() {
        let h = Hasher::new(1);
        let stored = h.hash("correct horse battery").await.unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert_eq!(
            h.verify(&stored, "correct horse battery").await.unwrap(),
            Verified::Yes
        );
        assert_eq!(
            h.verify(&stored, "correct horse batterY").await.unwrap(),
            Verified::No
        );
    }

    #[tokio::test]
    async fn hashes_made_by_the_argon2_crate_itself_verify() {
        use argon2::PasswordHasher;
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8192, 1, 1, None).unwrap(),
        )
        .hash_password(b"an older password", &salt)
        .unwrap()
        .to_string();
        let h = Hasher::new(1);
        assert_eq!(
            h.verify(&weak, "an older password").await.unwrap(),
            Verified::YesRehash
        );
        assert_eq!(
            h.verify(&weak, "another password").await.unwrap(),
            Verified::No
        );
    }

    #[tokio::test]
    async fn a_full_queue_refuses_new_jobs_at_once() {
        use futures::FutureExt;
        let h = Hasher::with_queue(1, 2);
        // Each job is only sent here; its answer, which would come later, is not awaited.
        let mut queued = 0;
        let refused = loop {
            match h.hash("a password nobody has").now_or_never() {
                None if queued < 50 => queued += 1,
                None => break None,
                Some(answer) => break Some(answer),
            }
        };
        assert!(
            matches!(refused, Some(Err(HashError::Busy))),
            "{refused:?} after {queued} queued"
        );
        assert!(queued >= 2, "the queue's room is used first: {queued}");

        let drained = async {
            while h.computations() < queued {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(30), drained)
            .await
            .expect("every queued job runs");
        assert!(h.hash("a password nobody has").await.is_ok());
    }

    #[tokio::test]
    async fn malformed_hashes_are_errors_not_matches() {
        let h = Hasher::new(1);
        assert!(h.verify("not a hash", "x").await.is_err());
    }
}
