// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {ISignatureTransfer} from "../permit2/ISignatureTransfer.sol";

/// Shared part of the x402 Permit2 proxies, written for Vend's dev chain from the x402 `exact` (Permit2) and `upto`
/// EVM scheme specs and the proxy ABI that the x402 EVM SDK (npm, 2.27) calls. The proxy is the Permit2 spender the payer signs
/// for; the signed witness fixes the recipient, so whoever submits the transfer cannot redirect it.
abstract contract x402BasePermit2Proxy is ReentrancyGuardTransient {
    /// Permit2 (the canonical address on every chain, fixed at construction)
    ISignatureTransfer public immutable PERMIT2;

    event Settled();
    event SettledWithPermit();
    event EIP2612PermitFailedWithReason(address indexed token, address indexed owner, string reason);
    event EIP2612PermitFailedWithPanic(address indexed token, address indexed owner, uint256 errorCode);
    event EIP2612PermitFailedWithData(address indexed token, address indexed owner, bytes data);

    error InvalidPermit2Address();
    error InvalidDestination();
    error PaymentTooEarly();
    error InvalidOwner();
    error InvalidAmount();
    error Permit2612AmountMismatch();

    /// An EIP-2612 permit approving Permit2, for payers who have not approved it yet.
    struct EIP2612Permit {
        uint256 value;
        uint256 deadline;
        bytes32 r;
        bytes32 s;
        uint8 v;
    }

    constructor(address permit2) {
        if (permit2 == address(0)) revert InvalidPermit2Address();
        PERMIT2 = ISignatureTransfer(permit2);
    }

    /// Move `amount` from `owner` to `to` through Permit2, with the child's witness hash and type string.
    function _settle(
        ISignatureTransfer.PermitTransferFrom calldata permit,
        uint256 amount,
        address owner,
        address to,
        uint256 validAfter,
        bytes32 witnessHash,
        string memory witnessTypeString,
        bytes calldata signature
    ) internal {
        if (amount == 0) revert InvalidAmount();
        if (owner == address(0)) revert InvalidOwner();
        if (to == address(0)) revert InvalidDestination();
        if (block.timestamp < validAfter) revert PaymentTooEarly();
        PERMIT2.permitWitnessTransferFrom(
            permit,
            ISignatureTransfer.SignatureTransferDetails({to: to, requestedAmount: amount}),
            owner,
            witnessHash,
            witnessTypeString,
            signature
        );
    }

    /// Try the payer's EIP-2612 permit for Permit2; a failure is logged, not fatal (the approval may already exist).
    function _executePermit(address token, address owner, EIP2612Permit calldata p, uint256 permittedAmount) internal {
        if (p.value != permittedAmount) revert Permit2612AmountMismatch();
        try IERC20Permit(token).permit(owner, address(PERMIT2), p.value, p.deadline, p.v, p.r, p.s) {}
        catch Error(string memory reason) {
            emit EIP2612PermitFailedWithReason(token, owner, reason);
        } catch Panic(uint256 code) {
            emit EIP2612PermitFailedWithPanic(token, owner, code);
        } catch (bytes memory data) {
            emit EIP2612PermitFailedWithData(token, owner, data);
        }
    }
}
