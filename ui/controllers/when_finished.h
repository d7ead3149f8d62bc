// Delivers a worker's result to a GUI-thread handler, but only while the receiving object lives.
//
// Why not QFuture::then(context, ...): in Qt 6.4 the continuation still fires when its context
// object was destroyed before the future finished (a debug build asserts on the null context), so
// a window or controller closed during a background job is not safely out of the way. A
// QFutureWatcher parented to the receiver dies with it, and the orphaned job's result is dropped.
// A job that threw or was cancelled (thread pool shutting down) has no result: the handler is not
// called, and an exception is logged (jobs report their errors in their result type).
#pragma once

#include <QFuture>
#include <QFutureWatcher>
#include <QtGlobal>
#include <QObject>

#include <exception>
#include <utility>

namespace scalebits::ui {

template <class T, class Handler>
void whenFinished(QObject* receiver, QFuture<T> future, Handler&& handler) {
    auto* watcher = new QFutureWatcher<T>(receiver);
    QObject::connect(watcher, &QFutureWatcherBase::finished, receiver,
                     [watcher, handler = std::forward<Handler>(handler)]() mutable {
                         watcher->deleteLater();
                         if (watcher->isCanceled() || watcher->future().resultCount() == 0) return;
                         T result;
                         try {
                             result = watcher->result();  // rethrows what the job threw
                         } catch (const std::exception& e) {
                             qWarning("background job failed: %s", e.what());
                             return;
                         }
                         handler(std::move(result));
                     });
    watcher->setFuture(std::move(future));
}

}  // namespace scalebits::ui
