// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title The part of TRC-20 the vault uses.
interface ITRC20 {
    function balanceOf(address owner) external view returns (uint256);
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

/// @title Token transfers that work with tokens whose transfer returns
/// nothing (USDT on TRON declares bool and returns no data): the call must
/// succeed and return either no data or true.
library SafeTransfer {
    error TransferFailed();

    function safeTransfer(ITRC20 token, address to, uint256 amount) internal {
        call(token, abi.encodeCall(ITRC20.transfer, (to, amount)));
    }

    function safeTransferFrom(ITRC20 token, address from, address to, uint256 amount) internal {
        call(token, abi.encodeCall(ITRC20.transferFrom, (from, to, amount)));
    }

    function call(ITRC20 token, bytes memory data) private {
        (bool ok, bytes memory ret) = address(token).call(data);
        if (!ok || (ret.length != 0 && (ret.length != 32 || abi.decode(ret, (uint256)) != 1))) {
            revert TransferFailed();
        }
    }
}
