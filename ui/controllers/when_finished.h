// Delivers a worker's result to a GUI-thread handler, but only while the receiving object lives.
//
// Why not QFuture::then(context, ...): in Qt 6.4 a continuation whose context object was destroyed
// before the future finished still runs (with a null context it asserts in debug builds, and posts
// to the application object otherwise), so a window or controller closed during a background job
// would get its handler called after destruction. A QFutureWatcher parented to the receiver dies
// with it, and the result of the orphaned job is simply dropped.
#pragma once

#include <QFuture>
#include <QFutureWatcher>
#include <QObject>

#include <utility>

namespace scalebits::ui {

template <class T, class Handler>
void whenFinished(QObject* receiver, QFuture<T> future, Handler&& handler) {
    auto* watcher = new QFutureWatcher<T>(receiver);
    QObject::connect(watcher, &QFutureWatcherBase::finished, receiver,
                     [watcher, handler = std::forward<Handler>(handler)]() mutable {
                         watcher->deleteLater();
                         handler(watcher->result());
                     });
    watcher->setFuture(std::move(future));
}

}  // namespace scalebits::ui
