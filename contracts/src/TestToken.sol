// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title A TRC-20 for tests (the fake TRON node's BTT): 18 decimals and a
/// mint anyone may call. If quiet, transfer and transferFrom return no data
/// (as USDT on TRON does); otherwise they return true.
contract TestToken {
    string public constant name = "BitTorrent test token";
    string public constant symbol = "BTT";
    uint8 public constant decimals = 18;
    bool public immutable quiet;

    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    constructor(bool quiet_) {
        quiet = quiet_;
    }

    function mint(address to, uint256 amount) external {
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        move(msg.sender, to, amount);
        return answer();
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        uint256 a = allowance[from][msg.sender];
        require(a >= amount, "TRC20: insufficient allowance");
        if (a != type(uint256).max) allowance[from][msg.sender] = a - amount;
        move(from, to, amount);
        return answer();
    }

    function move(address from, address to, uint256 amount) private {
        require(balanceOf[from] >= amount, "TRC20: transfer amount exceeds balance");
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
    }

    /// @dev Returns true, or, when quiet, stops the call with empty return data.
    function answer() private view returns (bool) {
        if (quiet) {
            assembly {
                return(0, 0)
            }
        }
        return true;
    }
}
