/// An object that handles events scheduled for it with a payload: the simulator's closure-free
/// event form (`EventSimulator.register(_:)`, `schedule(at:_:payload:)`). Firing such an event is
/// one call through the handler table, with no closure to store, retain or release.
public protocol EventHandler: AnyObject {
    /// Handles one of this handler's events, with the payload it was scheduled with. It may
    /// schedule, cancel and reschedule events; `now` is the event's time.
    func handle(_ payload: UInt64)
}

/// A handler registered with one simulator (valid only with that simulator).
@frozen
public struct EventHandlerID: Hashable, Sendable {
    /// The handler's place in the simulator's table, from 1 (0 means a closure event).
    public let index: UInt32
    @inlinable init(index: UInt32) { self.index = index }
}

/// A registered handler behind one class, so that the simulator calls any handler type through one
/// table of references: one indirect call into the box, which calls its handler directly.
@usableFromInline class EventHandlerBox {
    @usableFromInline func fire(_ payload: UInt64) { preconditionFailure("an abstract event handler box fired") }
}

/// The box of a handler of type `H`; it does not keep the handler alive.
final class TypedEventHandlerBox<H: EventHandler>: EventHandlerBox {
    let handler: Unmanaged<H>
    #if FEDSIM_INTERNAL_CHECKS
    /// Checked before each call in debug builds: a handler freed with events still pending is a
    /// programming error, reported here instead of a use after free.
    weak var alive: H?
    #endif

    init(_ handler: H) {
        self.handler = Unmanaged.passUnretained(handler)
        #if FEDSIM_INTERNAL_CHECKS
        alive = handler
        #endif
    }

    override func fire(_ payload: UInt64) {
        #if FEDSIM_INTERNAL_CHECKS
        precondition(alive != nil, "an event fired for an EventHandler that no longer exists")
        #endif
        handler._withUnsafeGuaranteedRef { $0.handle(payload) }
    }
}
