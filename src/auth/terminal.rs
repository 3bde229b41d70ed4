//! Reading a password for `lakeport passwd`: from a pipe as given, from a terminal with echo
//! turned off.

use std::io::{BufRead, IsTerminal, Write};

/// One line from stdin, without its line ending.
pub fn read_password(prompt: &str) -> std::io::Result<String> {
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    let mut line = String::new();
    if interactive {
        eprint!("{prompt}");
        std::io::stderr().flush()?;
        let _echo = EchoOff::new();
        stdin.lock().read_line(&mut line)?;
        eprintln!();
    } else {
        stdin.lock().read_line(&mut line)?;
    }
    let trimmed = line.strip_suffix('\n').unwrap_or(&line);
    Ok(trimmed.strip_suffix('\r').unwrap_or(trimmed).to_string())
}

/// Terminal echo off for stdin while it lives.
struct EchoOff {
    saved: Option<libc::termios>,
}

impl EchoOff {
    fn new() -> Self {
        // SAFETY: tcgetattr/tcsetattr on fd 0 with a termios value owned here; failure leaves
        // the terminal as it was.
        unsafe {
            let mut termios: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut termios) != 0 {
                return Self { saved: None };
            }
            let saved = termios;
            termios.c_lflag &= !libc::ECHO;
            if libc::tcsetattr(0, libc::TCSANOW, &termios) != 0 {
                return Self { saved: None };
            }
            Self { saved: Some(saved) }
        }
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            // SAFETY: restores the settings read in `new`.
            unsafe {
                libc::tcsetattr(0, libc::TCSANOW, saved);
            }
        }
    }
}
