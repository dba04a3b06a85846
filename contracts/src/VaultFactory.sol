// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ChequeVault} from "./ChequeVault.sol";
import {ITRC20} from "./SafeTransfer.sol";

/// @title VaultFactory: makes each payer's ChequeVault and says which it is.
/// @notice A payee asks vaultOf(payer) and trusts the answer because the
/// factory only records vaults it created itself from ChequeVault's code,
/// with a withdrawal delay of at least MIN_DELAY. One vault per payer.
contract VaultFactory {
    /// @notice The shortest withdrawal delay a vault may have.
    uint256 public constant MIN_DELAY = 1 days;

    /// @notice The vault of each payer (address(0) when none).
    mapping(address => ChequeVault) public vaultOf;

    event VaultCreated(address indexed issuer, address vault, address token, uint256 withdrawDelay);

    error VaultExists(address vault);
    error DelayTooShort(uint256 minimum);

    /// @notice Creates the caller's vault holding token.
    function create(ITRC20 token, uint256 withdrawDelay) external returns (ChequeVault vault) {
        if (address(vaultOf[msg.sender]) != address(0)) revert VaultExists(address(vaultOf[msg.sender]));
        if (withdrawDelay < MIN_DELAY) revert DelayTooShort(MIN_DELAY);
        vault = new ChequeVault(msg.sender, token, withdrawDelay);
        vaultOf[msg.sender] = vault;
        emit VaultCreated(msg.sender, address(vault), address(token), withdrawDelay);
    }
}
