// The browser verifier's core, for Node and for the bundle: verify a pack, plus the primitives its tests use.
export { verifyPack, NOT_CHECKED_IN_BROWSER } from "./pack.js";
export { describeReason, exitCodeOf, REASONS, UNUSABLE_REASONS } from "./reasons.js";
export { TrustRoot } from "./trust.js";
