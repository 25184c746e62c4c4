// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// The signature-transfer half of Permit2's interface (Uniswap/permit2 `ISignatureTransfer`), written for Vend's
/// dev chain from the published ABI: same structs, selectors, errors and event. The batch variants are left out.
interface ISignatureTransfer {
    /// The token and the most a signature lets the spender move.
    struct TokenPermissions {
        address token;
        uint256 amount;
    }

    /// What the owner signs (the spender is msg.sender at transfer time).
    struct PermitTransferFrom {
        TokenPermissions permitted;
        uint256 nonce;
        uint256 deadline;
    }

    /// Where the spender sends the tokens and how many (at most `permitted.amount`).
    struct SignatureTransferDetails {
        address to;
        uint256 requestedAmount;
    }

    /// The requested amount exceeds the signed maximum.
    error InvalidAmount(uint256 maxAmount);
    /// The signature's deadline has passed.
    error SignatureExpired(uint256 signatureDeadline);
    /// The nonce was already used or invalidated.
    error InvalidNonce();

    event UnorderedNonceInvalidation(address indexed owner, uint256 word, uint256 mask);

    function DOMAIN_SEPARATOR() external view returns (bytes32);

    /// Bit `nonce & 0xff` of word `nonce >> 8` is set once `owner` used (or invalidated) that nonce.
    function nonceBitmap(address owner, uint256 wordPos) external view returns (uint256);

    function invalidateUnorderedNonces(uint256 wordPos, uint256 mask) external;

    function permitTransferFrom(
        PermitTransferFrom calldata permit,
        SignatureTransferDetails calldata transferDetails,
        address owner,
        bytes calldata signature
    ) external;

    /// Like permitTransferFrom, with extra signed data: `witness` is its EIP-712 struct hash and
    /// `witnessTypeString` completes the type, e.g. "Witness witness)TokenPermissions(address token,uint256 amount)Witness(...)".
    function permitWitnessTransferFrom(
        PermitTransferFrom calldata permit,
        SignatureTransferDetails calldata transferDetails,
        address owner,
        bytes32 witness,
        string calldata witnessTypeString,
        bytes calldata signature
    ) external;
}
