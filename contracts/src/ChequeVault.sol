// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ITRC20, SafeTransfer} from "./SafeTransfer.sol";

/// @title ChequeVault: one payer's collateral for bidtorrent cheques.
/// @notice The payer (issuer) deposits a TRC-20 token; anyone it paid with a
/// cumulative cheque cashes it here, whenever it likes, for what the cheque
/// adds over what it already cashed, as far as the balance goes. The issuer
/// takes money out only after announcing it and waiting withdrawDelay, so a
/// payee can rely on the balance it sees minus the announced withdrawal.
/// The issuer may reserve part of the balance for one beneficiary (a "hard
/// deposit"): a cash pays from the beneficiary's reservation first, then
/// from the unreserved balance; nobody else's cash and no withdrawal can
/// take a reservation, and lowering one takes the same delay as a
/// withdrawal, so a payee can extend credit up to its reservation without
/// caring whom else the issuer pays.
/// Cheques are TIP-712 signatures of
/// Cheque(address token,address payer,address beneficiary,uint256 cumulativePayout)
/// in the domain EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)
/// with name "BTTCheque", version "1", chainId = block.chainid & 0xffffffff
/// (TRON's TIP-712 chain ids) and this vault's address: a cheque for one
/// vault is worthless at another. Vaults are made by a VaultFactory,
/// which payees trust to tell them a payer's vault.
contract ChequeVault {
    using SafeTransfer for ITRC20;

    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant CHEQUE_TYPEHASH =
        keccak256("Cheque(address token,address payer,address beneficiary,uint256 cumulativePayout)");
    bytes32 private constant NAME_HASH = keccak256("BTTCheque");
    bytes32 private constant VERSION_HASH = keccak256("1");
    /// @dev secp256k1n / 2: signatures with a higher s are malleable copies.
    uint256 private constant HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    /// @notice The payer whose cheques this vault honours.
    address public immutable issuer;
    /// @notice The token held and paid out.
    ITRC20 public immutable token;
    /// @notice Seconds between a withdrawal request and the withdrawal.
    uint256 public immutable withdrawDelay;

    /// @notice What each beneficiary has cashed so far (cumulative).
    mapping(address => uint256) public paidOut;
    /// @notice What each beneficiary's last cash left unpaid for want of balance.
    mapping(address => uint256) public bounced;
    /// @notice Everything cashed from this vault.
    uint256 public totalPaidOut;
    /// @notice The announced withdrawal (0 when none) and when it may be made.
    uint256 public withdrawalAmount;
    uint256 public withdrawalTime;

    /// @notice A beneficiary's reservation: amount is held for it alone;
    /// decrease is an announced lowering, applicable from decreaseTime.
    struct Reservation {
        uint256 amount;
        uint256 decrease;
        uint256 decreaseTime;
    }

    /// @notice Each beneficiary's reservation.
    mapping(address => Reservation) public reservations;
    /// @notice The sum of all reservations' amounts.
    uint256 public totalReserved;
    /// @dev Every beneficiary ever given a reservation, in order (reservedFor).
    address[] private beneficiaries;
    mapping(address => bool) private listed;

    event Deposited(address indexed from, uint256 amount);
    event WithdrawalRequested(uint256 amount, uint256 time);
    event Withdrawn(uint256 amount);
    event ChequeCashed(
        address indexed beneficiary, address indexed recipient, uint256 cumulativePayout, uint256 paid, uint256 fromReservation
    );
    event Reserved(address indexed beneficiary, uint256 amount, uint256 reservation);
    event UnreserveRequested(address indexed beneficiary, uint256 amount, uint256 time);
    event Unreserved(address indexed beneficiary, uint256 amount, uint256 reservation);
    event ChequeBounced(address indexed beneficiary, uint256 cumulativePayout, uint256 unpaid);

    error NotIssuer();
    error NotAContract();
    error NothingToCash();
    error BadSignature();
    error WithdrawalNotDue(uint256 time);
    error NoWithdrawal();
    error NotEnoughUnreserved(uint256 unreserved);
    error NoDecrease();
    error DecreaseNotDue(uint256 time);

    constructor(address issuer_, ITRC20 token_, uint256 withdrawDelay_) {
        if (address(token_).code.length == 0) revert NotAContract();
        issuer = issuer_;
        token = token_;
        withdrawDelay = withdrawDelay_;
    }

    modifier onlyIssuer() {
        if (msg.sender != issuer) revert NotIssuer();
        _;
    }

    /// @notice The vault's token balance.
    function balance() public view returns (uint256) {
        return token.balanceOf(address(this));
    }

    /// @notice The balance no reservation holds: what cashes beyond a
    /// reservation and withdrawals are paid from.
    function unreserved() public view returns (uint256) {
        uint256 b = balance();
        return b > totalReserved ? b - totalReserved : 0;
    }

    /// @notice What payees can count on beyond their reservations, all
    /// together: the unreserved balance less the announced withdrawal.
    function collateral() external view returns (uint256) {
        uint256 u = unreserved();
        return u > withdrawalAmount ? u - withdrawalAmount : 0;
    }

    /// @notice What beneficiary alone can count on: its reservation less
    /// the announced decrease.
    function reservedFor(address beneficiary) external view returns (uint256) {
        return held(reservations[beneficiary]);
    }

    /// @notice Every beneficiary ever given a reservation (some may be 0 now).
    function reservationHolders() external view returns (address[] memory) {
        return beneficiaries;
    }

    function held(Reservation storage r) private view returns (uint256) {
        return r.amount > r.decrease ? r.amount - r.decrease : 0;
    }

    /// @notice The TIP-712 domain separator of this vault's cheques.
    function domainSeparator() public view returns (bytes32) {
        return keccak256(
            abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid & 0xffffffff, address(this))
        );
    }

    /// @notice The digest the issuer signs for a cheque to beneficiary.
    function chequeDigest(address beneficiary, uint256 cumulativePayout) public view returns (bytes32) {
        bytes32 structHash = keccak256(abi.encode(CHEQUE_TYPEHASH, address(token), issuer, beneficiary, cumulativePayout));
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }

    /// @notice Moves amount from the caller (after approve) into the vault;
    /// what the vault's balance actually grew by is credited.
    function deposit(uint256 amount) external {
        uint256 before = balance();
        token.safeTransferFrom(msg.sender, address(this), amount);
        emit Deposited(msg.sender, balance() - before);
    }

    /// @notice Announces a withdrawal of amount, possible after withdrawDelay;
    /// it replaces any earlier announcement (0 cancels).
    function requestWithdrawal(uint256 amount) external onlyIssuer {
        withdrawalAmount = amount;
        withdrawalTime = block.timestamp + withdrawDelay;
        emit WithdrawalRequested(amount, withdrawalTime);
    }

    /// @notice Makes the announced withdrawal once it is due, paying the
    /// issuer at most the unreserved balance (reservations stay).
    function withdraw() external onlyIssuer {
        uint256 amount = withdrawalAmount;
        if (amount == 0) revert NoWithdrawal();
        if (block.timestamp < withdrawalTime) revert WithdrawalNotDue(withdrawalTime);
        uint256 u = unreserved();
        if (amount > u) amount = u;
        withdrawalAmount = 0;
        token.safeTransfer(issuer, amount);
        emit Withdrawn(amount);
    }

    /// @notice Reserves amount more of the unreserved balance for
    /// beneficiary: only its cashes can take it, and lowering it takes
    /// withdrawDelay (requestUnreserve).
    function reserve(address beneficiary, uint256 amount) external onlyIssuer {
        uint256 u = unreserved();
        if (amount == 0 || amount > u) revert NotEnoughUnreserved(u);
        Reservation storage r = reservations[beneficiary];
        r.amount += amount;
        totalReserved += amount;
        if (!listed[beneficiary]) {
            listed[beneficiary] = true;
            beneficiaries.push(beneficiary);
        }
        emit Reserved(beneficiary, amount, r.amount);
    }

    /// @notice Announces lowering beneficiary's reservation by amount,
    /// possible after withdrawDelay; it replaces any earlier announcement
    /// for beneficiary (0 cancels).
    function requestUnreserve(address beneficiary, uint256 amount) external onlyIssuer {
        Reservation storage r = reservations[beneficiary];
        r.decrease = amount;
        r.decreaseTime = block.timestamp + withdrawDelay;
        emit UnreserveRequested(beneficiary, amount, r.decreaseTime);
    }

    /// @notice Lowers beneficiary's reservation by the announced decrease
    /// once it is due (at most to zero); the amount returns to the
    /// unreserved balance.
    function unreserve(address beneficiary) external onlyIssuer {
        Reservation storage r = reservations[beneficiary];
        uint256 amount = r.decrease;
        if (amount == 0) revert NoDecrease();
        if (block.timestamp < r.decreaseTime) revert DecreaseNotDue(r.decreaseTime);
        if (amount > r.amount) amount = r.amount;
        r.amount -= amount;
        r.decrease = 0;
        totalReserved -= amount;
        emit Unreserved(beneficiary, amount, r.amount);
    }

    /// @notice Cashes the caller's cheque: pays recipient what cumulativePayout
    /// adds over what the caller already cashed, from the caller's
    /// reservation first and then from the unreserved balance, and records
    /// the rest as bounced (cashable later, after a deposit).
    function cash(address recipient, uint256 cumulativePayout, bytes calldata issuerSig) external returns (uint256 paid) {
        address beneficiary = msg.sender;
        uint256 owed = cumulativePayout > paidOut[beneficiary] ? cumulativePayout - paidOut[beneficiary] : 0;
        if (owed == 0) revert NothingToCash();
        if (recover(chequeDigest(beneficiary, cumulativePayout), issuerSig) != issuer) revert BadSignature();
        Reservation storage r = reservations[beneficiary];
        uint256 b = balance();
        // Never more than the balance, even if a token took some away.
        uint256 fromReservation = owed < r.amount ? owed : r.amount;
        if (fromReservation > b) fromReservation = b;
        uint256 u = b > totalReserved ? b - totalReserved : 0;
        uint256 rest = owed - fromReservation;
        paid = fromReservation + (rest < u ? rest : u);
        if (fromReservation > 0) {
            r.amount -= fromReservation;
            totalReserved -= fromReservation;
        }
        paidOut[beneficiary] += paid;
        totalPaidOut += paid;
        bounced[beneficiary] = owed - paid;
        if (paid > 0) token.safeTransfer(recipient, paid);
        emit ChequeCashed(beneficiary, recipient, cumulativePayout, paid, fromReservation);
        if (paid < owed) emit ChequeBounced(beneficiary, cumulativePayout, owed - paid);
    }

    /// @dev ecrecover of a 65-byte r ‖ s ‖ v signature with v ∈ {27, 28}
    /// and low s; address(0) for anything else.
    function recover(bytes32 digest, bytes calldata sig) private pure returns (address) {
        if (sig.length != 65) revert BadSignature();
        bytes32 r = bytes32(sig[0:32]);
        bytes32 s = bytes32(sig[32:64]);
        uint8 v = uint8(sig[64]);
        if (uint256(s) > HALF_N || (v != 27 && v != 28)) revert BadSignature();
        return ecrecover(digest, v, r, s);
    }
}
