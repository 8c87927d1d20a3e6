"""Go's `golang.org/x/mod/sumdb/note` (the signed-note code of the Go checksum database, not
Docket's) verifies the Ed25519 line of a Docket checkpoint that also carries an ML-DSA-44
line: a verifier that knows only Ed25519 is not thrown off by the second line (signed-note:
lines of unknown keys are ignored), and it refuses the same note once its text is changed.

Built offline from Debian's packages (`golang-go`, `golang-golang-x-mod-dev`, which puts the
module's source under /usr/share/gocode/src). Without `go` the test skips, saying so; under
CI=true it fails instead (`make go-interop`, on which `make pytest` depends, installs them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA44PrivateKey

from events.checkpoints import Signer, split_note

ORIGIN = "docket.example.org/log"
GOPATH = Path("/usr/share/gocode")
NOTE_PACKAGE = GOPATH / "src/golang.org/x/mod/sumdb/note"

PROGRAM = """package main

import (
	"fmt"
	"os"

	"golang.org/x/mod/sumdb/note"
)

// verify <vkey file> <note file>: exit 0 and print the verified signers, or exit 1.
func main() {
	vkey, err := os.ReadFile(os.Args[1])
	if err != nil {
		panic(err)
	}
	msg, err := os.ReadFile(os.Args[2])
	if err != nil {
		panic(err)
	}
	verifier, err := note.NewVerifier(string(vkey))
	if err != nil {
		fmt.Println("bad vkey:", err)
		os.Exit(1)
	}
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		fmt.Println("refused:", err)
		os.Exit(1)
	}
	for _, s := range n.Sigs {
		fmt.Printf("verified %s %08x\\n", s.Name, s.Hash)
	}
	fmt.Printf("unverified %d\\n", len(n.UnverifiedSigs))
}
"""


@pytest.fixture(scope="module")
def verify_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go")
    if go is None or not NOTE_PACKAGE.is_dir():
        why = (
            "go or golang.org/x/mod is missing: `apt-get install -y golang-go "
            "golang-golang-x-mod-dev` (or `make go-interop`) to run the Go interop test"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"{why}; CI=true")
        pytest.skip(why)
    work = tmp_path_factory.mktemp("go-note")
    (work / "main.go").write_text(PROGRAM)
    env = {
        **os.environ,
        "GOPATH": str(GOPATH),
        "GO111MODULE": "off",
        "GOFLAGS": "",
        "GOPROXY": "off",
        "GOCACHE": str(work / "cache"),
        "CGO_ENABLED": "0",
    }
    binary = work / "verify"
    subprocess.run(
        [go, "build", "-o", str(binary), str(work / "main.go")],
        env=env,
        cwd=work,
        check=True,
        timeout=300,
    )
    return binary


def _run(binary: Path, tmp: Path, vkey: str, note: str) -> subprocess.CompletedProcess[str]:
    (tmp / "vkey").write_text(vkey)
    (tmp / "note").write_text(note)
    return subprocess.run(
        [str(binary), str(tmp / "vkey"), str(tmp / "note")],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_go_verifies_the_ed25519_line_beside_an_mldsa_line(
    verify_binary: Path, tmp_path: Path
) -> None:
    signer = Signer(ORIGIN, Ed25519PrivateKey.generate(), MLDSA44PrivateKey.generate())
    note = signer.sign_checkpoint(ORIGIN, 7, bytes(range(32)))
    lines = split_note(note)[1]
    assert len(lines) == 2  # the Ed25519 line and the ML-DSA-44 line, under the same name
    ed_vkey = signer.verifier_key()
    key_hash = ed_vkey.split("+")[1]
    run = _run(verify_binary, tmp_path, ed_vkey, note)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines() == [f"verified {ORIGIN} {key_hash}", "unverified 1"]

    # The ML-DSA-44 key is not one Go's note package knows: it refuses it as a verifier.
    mldsa_vkey = signer.mldsa_verifier_key()
    assert mldsa_vkey is not None
    assert _run(verify_binary, tmp_path, mldsa_vkey, note).returncode == 1

    # The same lines under a changed tree size: refused.
    forged = note.replace("\n7\n", "\n8\n", 1)
    assert forged != note
    run = _run(verify_binary, tmp_path, ed_vkey, forged)
    assert run.returncode == 1 and "refused" in run.stdout, run.stdout

    # Only the ML-DSA-44 line left: nothing Go can verify.
    text = note[: note.rfind("\n\n") + 2]
    mldsa_line = [x for x in note[len(text) :].splitlines() if x][1]
    run = _run(verify_binary, tmp_path, ed_vkey, text + mldsa_line + "\n")
    assert run.returncode == 1, run.stdout
