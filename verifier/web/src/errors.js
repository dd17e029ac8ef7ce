// Error classes of the browser verifier. Their names are the Python verifier's (verifier/errors.py), so a
// failure has one reason class whichever verifier found it (docs/formats.md, "Evidence pack v1").
//
// Two families, as the CLI's exit codes: MalformedInput (exit 2: unusable input) and VerificationFailed
// (exit 1: well formed, but a check failed). Messages are lower-case and name the values they compared.

/** Base of every verifier error; `reason` is the class name, `step` is filled in by the pack check. */
export class VerifierError extends Error {
  constructor(message) {
    super(message);
    this.name = new.target.name;
    this.step = null;
  }

  /** The reason class: the error's class name, the same as the Python verifier's. */
  get reason() {
    return this.name;
  }
}

/** The input is unusable: it cannot be parsed or lacks what the format requires (exit 2). */
export class MalformedInput extends VerifierError {}

/** No trust root was given, or it names no key for the evidence's log (exit 2). */
export class UntrustedLog extends MalformedInput {}

/** The input is well formed but one of the checks failed (exit 1). */
export class VerificationFailed extends VerifierError {}

/** A Merkle proof does not fit its tree sizes. */
export class InvalidProof extends VerificationFailed {}

/** A root computed from a proof differs from the root it was checked against. */
export class RootMismatch extends VerificationFailed {
  constructor(expected, calculated, what = "root") {
    super(`${what} mismatch: calculated ${toHexLocal(calculated)}, want ${toHexLocal(expected)}`);
    this.expected = expected;
    this.calculated = calculated;
  }
}

/** An SM2 signature does not verify under the key it was checked with. */
export class BadSignature extends VerificationFailed {}

/** A signature or record names a different key than the one it is checked against. */
export class KeyMismatch extends VerificationFailed {}

/** The disclosed payload and salt do not hash to the event's payload_commitment. */
export class CommitmentMismatch extends VerificationFailed {}

/** A batch attestation does not cover the event. */
export class AttestationMismatch extends VerificationFailed {}

/** An anchor record does not match its own checkpoint, the pack's checkpoint or the journal chain. */
export class AnchorMismatch extends VerificationFailed {}

/** An EVM receipt does not show that the trusted registry logged this checkpoint (verifier/errors.py). */
export class ChainMismatch extends VerificationFailed {}

/** A media segment does not authenticate, or the plaintext is not the recorded one. */
export class SegmentMismatch extends VerificationFailed {}

function toHexLocal(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
