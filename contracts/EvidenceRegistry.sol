// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.37;

/// @title Tiezheng regulator registry: checkpoints of evidence logs and daily regulator digests.
/// @notice Holds hashes, sizes and dates only, never text: a log is named by the SM3 hash of its origin
/// string, a tenant by the SM3 hash of its id. Only the operator accounts fixed at deployment may write.
/// A log's checkpoints only grow (each write must name a larger tree than the last), and a tenant's digest
/// for a date is written once. Every write emits an event, which is what anchor receipts point at.
contract EvidenceRegistry {
    struct Checkpoint {
        uint64 size;
        bytes32 root;
    }

    /// @notice A checkpoint of the log whose origin hashes to `originHash` was recorded.
    event CheckpointAnchored(bytes32 indexed originHash, uint64 size, bytes32 root);

    /// @notice The daily digest of the tenant hashing to `tenantHash` for `date` (YYYYMMDD) was recorded.
    event DigestRecorded(bytes32 indexed tenantHash, uint32 date, bytes32 digest);

    mapping(address => bool) public isOperator;
    address[] private _operators;
    mapping(bytes32 => Checkpoint) private _latest;
    mapping(bytes32 => mapping(uint64 => bytes32)) private _roots;
    mapping(bytes32 => mapping(uint32 => bytes32)) private _digests;

    /// @param operators_ the accounts that may write; at least one, none zero, none twice.
    constructor(address[] memory operators_) {
        require(operators_.length > 0, "EvidenceRegistry: at least one operator");
        for (uint256 i = 0; i < operators_.length; i++) {
            address op = operators_[i];
            require(op != address(0), "EvidenceRegistry: zero operator");
            require(!isOperator[op], "EvidenceRegistry: operator listed twice");
            isOperator[op] = true;
            _operators.push(op);
        }
    }

    modifier onlyOperator() {
        require(isOperator[msg.sender], "EvidenceRegistry: caller is not an operator");
        _;
    }

    /// @notice Record the checkpoint (size, root) of the log `originHash`; its size must exceed the last one.
    function anchorCheckpoint(bytes32 originHash, uint64 size, bytes32 root) external onlyOperator {
        require(originHash != bytes32(0), "EvidenceRegistry: zero origin hash");
        require(root != bytes32(0), "EvidenceRegistry: zero root");
        require(size > _latest[originHash].size, "EvidenceRegistry: size not larger than the last checkpoint");
        _latest[originHash] = Checkpoint(size, root);
        _roots[originHash][size] = root;
        emit CheckpointAnchored(originHash, size, root);
    }

    /// @notice Record the digest of tenant `tenantHash` for `date` (YYYYMMDD); once per tenant and date.
    function recordDigest(bytes32 tenantHash, uint32 date, bytes32 digest) external onlyOperator {
        require(tenantHash != bytes32(0), "EvidenceRegistry: zero tenant hash");
        require(digest != bytes32(0), "EvidenceRegistry: zero digest");
        require(_isDate(date), "EvidenceRegistry: date is not YYYYMMDD");
        require(_digests[tenantHash][date] == bytes32(0), "EvidenceRegistry: digest already recorded for this date");
        _digests[tenantHash][date] = digest;
        emit DigestRecorded(tenantHash, date, digest);
    }

    /// @notice The largest checkpoint recorded for `originHash` (size 0 and a zero root if none).
    function latestCheckpoint(bytes32 originHash) external view returns (uint64 size, bytes32 root) {
        Checkpoint storage c = _latest[originHash];
        return (c.size, c.root);
    }

    /// @notice The root recorded for `originHash` at tree size `size` (zero if none).
    function rootAt(bytes32 originHash, uint64 size) external view returns (bytes32) {
        return _roots[originHash][size];
    }

    /// @notice The digest recorded for tenant `tenantHash` and `date` (zero if none).
    function digestOf(bytes32 tenantHash, uint32 date) external view returns (bytes32) {
        return _digests[tenantHash][date];
    }

    /// @notice The operator accounts, in deployment order.
    function operators() external view returns (address[] memory) {
        return _operators;
    }

    function _isDate(uint32 date) private pure returns (bool) {
        uint32 month = (date / 100) % 100;
        uint32 day = date % 100;
        return date >= 19700101 && date <= 99991231 && month >= 1 && month <= 12 && day >= 1 && day <= 31;
    }
}
