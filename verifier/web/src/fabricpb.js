// The Fabric protobuf messages a receipt's block is read with, as schemas for protowire.js: only the fields
// the checks read (fabric-protos v2.x: common/common.proto, peer/transaction.proto, peer/proposal.proto,
// peer/proposal_response.proto, ledger/rwset/rwset.proto, ledger/rwset/kvrwset/kv_rwset.proto,
// msp/identities.proto). The block's own messages (Block, BlockHeader, BlockData, BlockMetadata) are
// complete, since their canonical form is checked field by field.

export const BlockHeader = { number: [1, "uint"], previousHash: [2, "bytes"], dataHash: [3, "bytes"] };
export const Block = {
  header: [1, BlockHeader],
  data: [2, { data: [1, "bytes", "repeated"] }],
  metadata: [3, { metadata: [1, "bytes", "repeated"] }],
};
export const MetadataSignature = { signatureHeader: [1, "bytes"], signature: [2, "bytes"] };
export const Metadata = { value: [1, "bytes"], signatures: [2, MetadataSignature, "repeated"] };
export const SignatureHeader = { creator: [1, "bytes"], nonce: [2, "bytes"] };
export const LastConfig = { index: [1, "uint"] };
export const OrdererBlockMetadata = { lastConfig: [1, LastConfig], consenterMetadata: [2, "bytes"] };
export const Envelope = { payload: [1, "bytes"], signature: [2, "bytes"] };
export const Payload = { header: [1, { channelHeader: [1, "bytes"], signatureHeader: [2, "bytes"] }], data: [2, "bytes"] };
export const ChannelHeader = { type: [1, "int32"], channelId: [4, "string"], txId: [5, "string"] };
export const Transaction = { actions: [1, { header: [1, "bytes"], payload: [2, "bytes"] }, "repeated"] };
export const Endorsement = { endorser: [1, "bytes"], signature: [2, "bytes"] };
export const ChaincodeActionPayload = {
  chaincodeProposalPayload: [1, "bytes"],
  action: [2, { proposalResponsePayload: [1, "bytes"], endorsements: [2, Endorsement, "repeated"] }],
};
export const ProposalResponsePayload = { proposalHash: [1, "bytes"], extension: [2, "bytes"] };
export const ChaincodeAction = {
  results: [1, "bytes"],
  events: [2, "bytes"],
  response: [3, { status: [1, "int32"], message: [2, "string"], payload: [3, "bytes"] }],
  chaincodeId: [4, { path: [1, "string"], name: [2, "string"], version: [3, "string"] }],
};
export const TxReadWriteSet = { ns: [2, { namespace: [1, "string"], rwset: [2, "bytes"] }, "repeated"] };
export const KVRWSet = { writes: [3, { key: [1, "string"], isDelete: [2, "bool"], value: [3, "bytes"] }, "repeated"] };
export const SerializedIdentity = { mspid: [1, "string"], idBytes: [2, "bytes"] };
